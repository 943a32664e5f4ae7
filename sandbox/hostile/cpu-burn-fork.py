# CPU time in forked processes: four processes spin forever. Sharing one CPU, none of them alone
# gets near the CPU-time limit before the wall clock would end the run (so a per-process limit
# such as RLIMIT_CPU misses it), but their sum reaches it first: TLE, early.
import os

print("burning in 4 processes", flush=True)
for _ in range(3):
    if os.fork() == 0:
        break
while True:
    pass
