# Try to become root or leave the sandbox: setuid(0), a user namespace, mount, chroot, writing the
# read-only root filesystem, raw sockets, loading a kernel module, changing the clock or the host
# name, creating a device node. Every attempt must fail. Expected: OK, never "ESCAPED".
# (ptrace is not in the list: tracing the sandbox's own processes, PID 1 included, is allowed, as
# they run as the same uid with the same privileges; other sandboxes and the host are not visible
# in its PID namespace.)
import ctypes
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)


def attempt(name, fn):
    try:
        r = fn()
        if r is not None and r < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        print(f"ESCAPED {name}")
    except OSError as e:
        print(f"refused {name}: {e.strerror or e}")


CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
attempt("setuid(0)", lambda: os.setuid(0))
attempt("unshare(user)", lambda: libc.unshare(CLONE_NEWUSER))
attempt("unshare(mount)", lambda: libc.unshare(CLONE_NEWNS))
attempt("mount tmpfs", lambda: libc.mount(b"none", b"/box", b"tmpfs", 0, None))
attempt("chroot", lambda: os.chroot("/box"))
attempt("write /etc/passwd", lambda: open("/etc/passwd", "a").close())
attempt("write /usr/local/bin/coderoom-runner", lambda: open("/usr/local/bin/coderoom-runner", "a").close())
attempt("write /usr/local/lib/coderoom-runner.pyc", lambda: open("/usr/local/lib/coderoom-runner.pyc", "a").close())
attempt("create /usr/x", lambda: open("/usr/x", "w").close())
attempt("raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close())
attempt("init_module", lambda: libc.syscall(175, None, 0, b""))
attempt("settimeofday", lambda: libc.settimeofday(ctypes.byref((ctypes.c_long * 2)(0, 0)), None))
attempt("mknod /box/sda", lambda: os.mknod("/box/sda", 0o600 | 0o060000, os.makedev(8, 0)))
attempt("sethostname", lambda: libc.sethostname(b"pwned", 5))
