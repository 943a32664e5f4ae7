# Sleeps and uses no CPU at all: a CPU-time limit would never fire, only the wall clock (TLE).
import time

print("sleeping")
time.sleep(10**6)
