# Create empty files until the kernel refuses. Empty files cost no data blocks, only inodes (kernel
# memory): without an inode limit on the tmpfs this grows until the OOM killer. With nr_inodes it
# stops at once with ENOSPC. Expected: RE.
import errno

n = 0
try:
    while True:
        open(f"/tmp/f{n}", "w").close()
        n += 1
except OSError as e:
    print(f"stopped after {n} files: {errno.errorcode.get(e.errno, e.errno)}")
    raise
