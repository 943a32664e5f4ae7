# kill(-1, SIGKILL): signal every process this uid may signal. Each sandbox has a uid of its own
# (two could draw the same one) and, above all, its own PID namespace, so only this run's own
# processes are visible (the caller and the container's init are spared by the kernel). The run
# next to it must be unaffected.
# A child is started first so that there is something to kill (the program itself runs in the
# runner's process, the only other one in its sandbox besides init).
# Expected: OK, "killed" and "still here".
import os
import signal
import time

child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
os.kill(-1, signal.SIGKILL)
_, status = os.waitpid(child, 0)
print("killed" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else "missed")
print("still here")
