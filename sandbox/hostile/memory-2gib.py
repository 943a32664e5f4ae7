# Allocate 2 GiB, 64 MiB at a time, touching every page. The cgroup memory limit makes the kernel
# OOM-kill the program: MLE (from the container's OOMKilled state), never "allocated".
chunks = []
print("allocating")
while len(chunks) < 32:
    chunks.append(b"x" * (64 * 1024 * 1024))
print("allocated 2 GiB")
