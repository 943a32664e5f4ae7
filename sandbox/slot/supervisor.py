# coderoom slot supervisor: runs inside a long-lived slot container (the "slot" execution tier,
# sandbox/slot/README.md) and executes one run at a time in a fresh bubblewrap sandbox.
#
# The worker does not need this file in the image: it starts the container with
#   python3 -I -S -c <BOOT> <config JSON>
# and sends this source first on stdin (a decimal byte count, a newline, the source). So the
# supervisor always matches the worker that talks to it, and changing it rebuilds no image.
#
# Then the container's stdin/stdout (Docker's attach stream) or, when the worker gives one
# (`socket` in the config), a unix socket the worker listens on and binds into this container
# alone, carry frames: one type byte, a 4-byte big-endian length, the payload.
#   worker -> supervisor: D data for the run's stdin | C close the run's stdin | K kill the run
#                         (each payload starts with the sandbox's number, 4 bytes big-endian: a
#                         late frame of an ended run never reaches the next run's sandbox)
#   supervisor -> worker: R a sandbox is ready (payload: its number) | O run stdout | E run stderr
#                         X the run ended (payload: exit code, 128+n for signal n)
#                         F fatal: the slot cannot be trusted any more (payload: why); then exit
# A sandbox is started before its run (the runner waits on its stdin), so a run costs no bwrap or
# interpreter start; its stdin is the runner protocol (sandbox/README.md), unchanged.
#
# Single-threaded on purpose: bwrap's --die-with-parent is tied to the thread that spawned it.
import json
import os
import resource
import selectors
import signal
import struct
import sys
import time

CONFIG = json.loads(sys.argv[1])
# Docker tmpfs mounts of the container (size and inode caps), bound as /box and /tmp per run.
BOX = CONFIG.get('box', '/slot/box')
TMP = CONFIG.get('tmp', '/slot/tmp')
# The worker's socket for the frames, bound into the container (empty: the attach stream).
SOCKET = CONFIG.get('socket')
CHUNK = 65536

# ---- the inner seccomp filter (a classic BPF program for bwrap --seccomp FD) ----------------
# On top of the slot container's profile (which must allow bwrap's clone(CLONE_NEWUSER), mount,
# umount2 and pivot_root): the program itself may not create namespaces, mount, trace, use
# io_uring, bpf, keyrings, userfaultfd or perf events. Native system calls only.
CLONE_NS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
ARCHES = {
    # audit arch, {name: nr}
    'x86_64': (0xC000003E, dict(
        clone=56, clone3=435, unshare=272, setns=308, mount=165, umount2=166, pivot_root=155,
        chroot=161, ptrace=101, keyctl=250, add_key=248, request_key=249, bpf=321,
        userfaultfd=323, perf_event_open=298, io_uring_setup=425, io_uring_enter=426,
        io_uring_register=427, open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
        fsmount=432, fspick=433, mount_setattr=442)),
    'aarch64': (0xC00000B7, dict(
        clone=220, clone3=435, unshare=97, setns=268, mount=40, umount2=39, pivot_root=41,
        chroot=51, ptrace=117, keyctl=219, add_key=217, request_key=218, bpf=280,
        userfaultfd=282, perf_event_open=241, io_uring_setup=425, io_uring_enter=426,
        io_uring_register=427, open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
        fsmount=432, fspick=433, mount_setattr=442)),
}
DENIED = ['setns', 'mount', 'umount2', 'pivot_root', 'chroot', 'ptrace', 'keyctl', 'add_key',
          'request_key', 'bpf', 'userfaultfd', 'perf_event_open', 'io_uring_setup',
          'io_uring_enter', 'io_uring_register', 'open_tree', 'move_mount', 'fsopen', 'fsconfig',
          'fsmount', 'fspick', 'mount_setattr']


def inner_filter():
    audit_arch, nr = ARCHES[os.uname().machine]
    LD, JEQ, JSET, JGE, RET = 0x20, 0x15, 0x45, 0x35, 0x06
    ALLOW, ERRNO, KILL = 0x7FFF0000, 0x00050000, 0x80000000
    prog = []  # (code, jt, jf, k) with jumps as label names, resolved below

    def op(code, k, jt=0, jf=0):
        prog.append([code, jt, jf, k])

    op(LD, 4)                                      # arch
    op(JEQ, audit_arch, 0, 'kill')
    op(LD, 0)                                      # system call number
    if os.uname().machine == 'x86_64':
        op(JGE, 0x40000000, 'eperm', 0)            # x32 entry points
    for name in DENIED:
        op(JEQ, nr[name], 'eperm', 0)
    op(JEQ, nr['clone3'], 'enosys', 0)             # flags behind a pointer: glibc falls back
    op(JEQ, nr['clone'], 'flags', 0)
    op(JEQ, nr['unshare'], 'flags', 0)
    op(RET, ALLOW)
    labels = {'flags': len(prog)}
    op(LD, 16)                                     # args[0], low 32 bits (little endian)
    op(JSET, CLONE_NS, 'eperm', 0)
    op(RET, ALLOW)
    labels['eperm'] = len(prog)
    op(RET, ERRNO | 1)
    labels['enosys'] = len(prog)
    op(RET, ERRNO | 38)
    labels['kill'] = len(prog)
    op(RET, KILL)
    out = b''
    for i, (code, jt, jf, k) in enumerate(prog):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack('=HBBI', code, jt, jf, k)
    return out


FILTER = inner_filter()

# ---- the sandbox of one run --------------------------------------------------------------
ENV = {k: v for k, v in os.environ.items() if k not in ('HOSTNAME',)}
# Docker's masked /proc paths, masked again in the fresh /proc of every run.
PROC_MASKED_FILES = ['kcore', 'keys', 'latency_stats', 'timer_list', 'timer_stats',
                     'sched_debug', 'sysrq-trigger']
PROC_MASKED_DIRS = ['acpi', 'asound', 'scsi']


# The runner as the image's ENTRYPOINT starts it: compiled (images since 2026-12-05), else its
# script (its shebang has -u).
RUNNER = ([CONFIG['runner']] if 'runner' in CONFIG
          else ['/usr/bin/python3', '-u', '/usr/local/lib/coderoom-runner.pyc']
          if os.path.exists('/usr/local/lib/coderoom-runner.pyc')
          else ['/usr/local/bin/coderoom-runner'])


def bwrap_args(seccomp_fd):
    a = ['bwrap', '--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent',
         '--new-session', '--clearenv', '--cap-drop', 'ALL']
    for k, v in ENV.items():
        a += ['--setenv', k, v]
    for d in ('/usr', '/etc', '/var/lib', '/opt'):
        if os.path.isdir(d) and not os.path.islink(d):
            a += ['--ro-bind', d, d]
    for src, dest in CONFIG.get('roBinds', []):  # only for trying the supervisor by hand
        a += ['--ro-bind', src, dest]
    for name in sorted(os.listdir('/')):  # merged /usr: /bin -> usr/bin, /lib64, ...
        p = '/' + name
        if os.path.islink(p):
            a += ['--symlink', os.readlink(p), p]
    a += ['--dev', '/dev',
          '--perms', '1777', '--size', str(CONFIG['shmBytes']), '--tmpfs', '/dev/shm',
          '--proc', '/proc']
    for f in PROC_MASKED_FILES:
        if os.path.exists('/proc/' + f):
            a += ['--ro-bind', '/dev/null', '/proc/' + f]
    for d in PROC_MASKED_DIRS:
        if os.path.isdir('/proc/' + d):
            a += ['--perms', '0555', '--tmpfs', '/proc/' + d, '--remount-ro', '/proc/' + d]
    # /proc read-only, as in the container tier: no process can lower its oom_score_adj.
    a += ['--remount-ro', '/proc',
          '--bind', BOX, '/box', '--bind', TMP, '/tmp', '--chdir', '/box',
          '--seccomp', str(seccomp_fd),
          '--'] + RUNNER
    return a


class Sandbox:
    def __init__(self, number):
        self.number = number
        r, w = os.pipe()
        os.write(w, FILTER)  # a few hundred bytes: fits the pipe buffer
        os.close(w)
        in_r, self.stdin = os.pipe()
        self.stdout, out_w = os.pipe()
        self.stderr, err_w = os.pipe()
        for fd in (self.stdin, self.stdout, self.stderr):
            os.set_blocking(fd, False)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.dup2(in_r, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.dup2(r, 3)
                os.set_inheritable(3, True)  # dup2 onto itself would keep close-on-exec
                os.closerange(4, os.sysconf('SC_OPEN_MAX'))
                # Per process, as in the container tier (the supervisor itself runs for long).
                cpu = CONFIG['cpuSeconds']
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                os.execvpe('bwrap', bwrap_args(3), ENV)
            finally:
                os._exit(127)
        for fd in (r, in_r, out_w, err_w):
            os.close(fd)
        self.pidfd = os.pidfd_open(self.pid)
        self.pending = b''
        self.close_stdin = False
        # Whether its run began (a frame came): a sandbox that ends before is a broken slot.
        self.used = False
        self.errors = b''


# ---- the supervisor's loop ----------------------------------------------------------------
sel = selectors.DefaultSelector()
inbuf = b''
current = None
count = 0


def send(kind, payload=b''):
    data = kind + struct.pack('>I', len(payload)) + payload
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


def fatal(why):
    send(b'F', why.encode())
    sys.exit(3)


def others():
    """Processes in the slot other than its init (docker-init) and this supervisor."""
    me = os.getpid()
    return [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, me)]


def sweep():
    """Kills every process the run could have left (all share this slot's uid) and makes sure
    none is left: a survivor, or a file left in /box or /tmp, makes the slot untrustworthy."""
    try:
        os.kill(-1, signal.SIGKILL)  # all we may signal, except ourselves and init
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 2
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        left = others()
        if not left:
            break
        if time.monotonic() > deadline:
            fatal('processes survived the run: %s' % left[:5])
        time.sleep(0.001)  # killed processes are gone within a few ms; the run waits for this
    for top in (BOX, TMP):
        wipe(top)
        if os.listdir(top):
            fatal('files survived the run in ' + top)


def wipe(top):
    """Empties a tmpfs the run wrote (all of it belongs to the slot's uid). Directories are
    opened up first (a run may leave them unreadable), top-down, then removed bottom-up."""
    try:
        os.chmod(top, 0o700)
        for root, dirs, _ in os.walk(top):
            for d in dirs:
                p = os.path.join(root, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
        for root, dirs, files in os.walk(top, topdown=False):
            for f in files:
                os.unlink(os.path.join(root, f))
            for d in dirs:
                p = os.path.join(root, d)
                (os.unlink if os.path.islink(p) else os.rmdir)(p)
    except OSError as e:
        fatal('cannot empty %s: %s' % (top, e))


def prepare():
    global current, count
    count += 1
    current = Sandbox(count)
    sel.register(current.stdout, selectors.EVENT_READ, 'O')
    sel.register(current.stderr, selectors.EVENT_READ, 'E')
    sel.register(current.pidfd, selectors.EVENT_READ, 'exit')
    send(b'R', str(count).encode())


def drain(fd, kind):
    """Reads what a pipe holds: False after data, True at its end, None when nothing is there."""
    try:
        data = os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    if not data:
        return True
    if current.used:
        send(kind.encode(), data)
    elif kind == 'E':
        current.errors = (current.errors + data)[-2000:]  # bwrap's complaint, for F
    return False


def forget(fd):
    try:
        sel.unregister(fd)
    except (KeyError, ValueError):
        pass


def finish():
    """The run's bwrap exited: everything else of it dies, its output is sent, then X."""
    global current
    s = current
    _, status = os.waitpid(s.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    code = 128 - code if code < 0 else code
    forget(s.pidfd)
    os.close(s.pidfd)
    sweep()  # before draining: nothing can hold the pipes open now
    for fd, kind in ((s.stdout, 'O'), (s.stderr, 'E')):
        forget(fd)
        while drain(fd, kind) is False:
            pass
        os.close(fd)
    if s.stdin is not None:
        forget(s.stdin)
        os.close(s.stdin)
    if not s.used:
        fatal('sandbox %d ended before its run (exit %d): %s'
              % (s.number, code, s.errors.decode('utf-8', 'replace')))
    current = None
    send(b'X', str(code).encode())


def flush_stdin():
    s = current
    if s.stdin is None:
        return
    while s.pending:
        try:
            n = os.write(s.stdin, s.pending)
        except BlockingIOError:
            break
        except BrokenPipeError:
            s.pending = b''
            break
        s.pending = s.pending[n:]
    want = bool(s.pending)
    try:
        sel.modify(s.stdin, selectors.EVENT_WRITE, 'I') if want else sel.unregister(s.stdin)
    except KeyError:
        if want:
            sel.register(s.stdin, selectors.EVENT_WRITE, 'I')
    if not s.pending and s.close_stdin:
        os.close(s.stdin)
        s.stdin = None


def frame(kind, payload):
    if kind not in (b'D', b'C', b'K') or len(payload) < 4:
        fatal('unknown frame %r' % kind)
    number, payload = struct.unpack('>I', payload[:4])[0], payload[4:]
    if current is None or current.number != number:
        return  # a frame of a run that already ended (a late kill, late input): dropped
    current.used = True
    if kind == b'D':
        current.pending += payload
        flush_stdin()
    elif kind == b'C':
        current.close_stdin = True
        flush_stdin()
    elif kind == b'K':
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass


def connect():
    """Frames over the worker's unix socket (SANDBOX_SLOT_SOCKETS) instead of the attach stream:
    no copies through dockerd and the container's shim, about 2 ms less per run. The socket
    becomes fds 0 and 1, so the rest is the same; both stay blocking (they share one file
    description) and fd 0 is only read when select says so. Until the connection stands, an F
    goes to the attach stream, which the worker reads until then."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCKET)
    except OSError as e:
        fatal('cannot connect to the worker at %s: %s' % (SOCKET, e))
    os.dup2(s.fileno(), 0, inheritable=False)
    os.dup2(s.fileno(), 1, inheritable=False)
    s.close()


def main():
    global inbuf
    # SIGPIPE stays ignored here (Python's default): a write to the stdin of a program that has
    # gone raises BrokenPipeError, which flush_stdin handles; with the default action the
    # supervisor itself would die, and the run with it as SE. The worker closing the
    # supervisor's own stdout still ends it (an uncaught BrokenPipeError). The sandbox's
    # processes get the default action back before exec (start).
    if SOCKET:
        connect()
    else:
        os.set_blocking(0, False)
    sel.register(0, selectors.EVENT_READ, 'in')
    for top in (BOX, TMP):  # empty already in a new container; checked all the same
        wipe(top)
    prepare()
    while True:
        for key, _ in sel.select():
            what = key.data
            if what == 'in':
                try:
                    data = os.read(0, CHUNK)
                except BlockingIOError:
                    continue
                if not data:
                    os.kill(-1, signal.SIGKILL)
                    sys.exit(0)  # the worker closed the slot
                inbuf += data
                while len(inbuf) >= 5:
                    n = struct.unpack('>I', inbuf[1:5])[0]
                    if len(inbuf) < 5 + n:
                        break
                    kind, payload, inbuf = inbuf[:1], inbuf[5:5 + n], inbuf[5 + n:]
                    frame(kind, payload)
            elif what in ('O', 'E'):
                if current is not None and key.fd in (current.stdout, current.stderr):
                    if drain(key.fd, what) is True:
                        forget(key.fd)
            elif what == 'I':
                if current is not None:
                    flush_stdin()
            elif what == 'exit':
                if current is not None and key.fd == current.pidfd:
                    finish()
                    prepare()


main()
