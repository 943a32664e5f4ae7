# Print every environment the program can see: its own, PID 1's (/proc/1/environ is readable: the
# program's uid runs the container's init) and every other visible process's. None of the worker's
# or the server's secrets may be there. Expected: OK.
import os

print("own:", " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())))
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        print(f"pid {pid} [{cmd.strip()}]: {env}")
    except OSError as e:
        print(f"pid {pid}: {e}")
