# kill(-1, SIGKILL): signal every process this uid may signal. Every sandbox runs as uid 10001,
# but each has its own PID namespace, so only this run's own processes are visible (the caller and
# the container's init are spared by the kernel). The run next to it must be unaffected.
# Expected: OK, "still here".
import os
import signal

os.kill(-1, signal.SIGKILL)
print("still here")
