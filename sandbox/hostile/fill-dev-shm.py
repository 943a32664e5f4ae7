# Fill /dev/shm (shared memory, a tmpfs of its own): stopped by its size (ShmSize). Expected: RE.
import errno

mib = b"\0" * (1024 * 1024)
n = 0
try:
    with open("/dev/shm/fill", "wb") as f:
        while True:
            f.write(mib)
            f.flush()
            n += 1
except OSError as e:
    print(f"stopped at {n} MiB: {errno.errorcode.get(e.errno, e.errno)}")
    raise
