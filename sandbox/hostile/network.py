# Try to reach our Redis and MongoDB (default and local ports) on the container's loopback and on
# the host's docker0 address, the Docker API socket, and one outside address (TEST-NET-1,
# 192.0.2.1). There is no network at all: every attempt must fail. Expected: OK, never "CONNECTED".
import socket

targets = [
    ("127.0.0.1", 6379),
    ("127.0.0.1", 6399),
    ("127.0.0.1", 27017),
    ("127.0.0.1", 27018),
    ("172.17.0.1", 6379),
    ("172.17.0.1", 6399),
    ("172.17.0.1", 27017),
    ("172.17.0.1", 27018),
    ("192.0.2.1", 80),
    ("192.0.2.1", 443),
]
for host, port in targets:
    try:
        s = socket.create_connection((host, port), timeout=0.5)
        print(f"CONNECTED {host}:{port}")
        s.close()
    except OSError as e:
        print(f"blocked {host}:{port}: {type(e).__name__} {e}")

try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", ("192.0.2.1", 53))
    print("CONNECTED udp 192.0.2.1:53 (datagram sent)")
except OSError as e:
    print(f"blocked udp 192.0.2.1:53: {type(e).__name__} {e}")

for path in ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"]:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        print(f"CONNECTED {path}")
    except OSError as e:
        print(f"blocked {path}: {type(e).__name__} {e}")

interfaces = [name for _, name in socket.if_nameindex()]
print("interfaces:", " ".join(sorted(interfaces)))
