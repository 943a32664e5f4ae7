# Fill /tmp with one growing file until the kernel refuses. The run's tmpfs has its own quota
# (a memory-backed tmpfs per container, also capped by the fsize ulimit), so the write fails
# inside the sandbox (ENOSPC or EFBIG) and the host's disk never sees a byte. Expected: RE.
import errno

mib = b"\0" * (1024 * 1024)
n = 0
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(mib)
            f.flush()
            n += 1
except OSError as e:
    print(f"stopped at {n} MiB: {errno.errorcode.get(e.errno, e.errno)}")
    raise
