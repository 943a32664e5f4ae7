# Open file descriptors until the nofile ulimit refuses (EMFILE). Expected: OK.
import errno
import os

fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print(f"refused after {len(fds)} descriptors: {errno.errorcode.get(e.errno, e.errno)}")
