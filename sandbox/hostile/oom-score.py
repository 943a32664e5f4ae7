# Lower our own oom_score_adj, so that in a host-wide memory shortage the kernel would kill the
# worker, Redis or the database before this sandbox. Docker sets 500, and a process may lower its
# score down to what its shim has (0) unless a CAP_SYS_RESOURCE process set it; the sandbox's
# /proc is read-only, so every attempt must fail (EROFS), in this process and in a child.
# Expected: OK, "final 500" twice, never "LOWERED".
import os


def attempt(who):
    for value in ("0", "-1", "-1000", "499"):
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(value)
        except OSError as e:
            print(f"{who}: refused {value}: {e.strerror}")
    with open("/proc/self/oom_score_adj") as f:
        final = int(f.read())
    print(f"{who}: final {final}")
    if final < 500:
        print(f"{who}: LOWERED to {final}")


attempt("program")
pid = os.fork()
if pid == 0:
    attempt("child")
    os._exit(0)
os.waitpid(pid, 0)
