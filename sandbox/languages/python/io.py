import sys
a, b = map(int, sys.stdin.readline().split())
print(a * b)
print("warn", file=sys.stderr)
sys.exit(3)
