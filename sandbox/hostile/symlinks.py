# The Judge0 CVE-2024-28185 class: replace files the host might later read or write with symlinks
# to host paths. Here every file in /box and the runner's compile log name in /tmp become links
# to /etc/passwd, /etc/shadow, /var/run/docker.sock, /proc/1/root and the like. Coderoom's worker
# never reads or writes a file of the container (all I/O is the attach stream), so nothing
# follows them. Expected: OK.
import os

targets = {
    "/box/main.py": "/etc/passwd",
    "/box/main": "/etc/shadow",
    "/box/main.c": "/var/run/docker.sock",
    "/box/root": "/proc/1/root",
    "/box/stdout": "/proc/self/fd/1",
    "/box/hostroot": "/../../../../../../",
}
for pid in range(1, 50):
    targets[f"/tmp/coderoom-compile.{pid}.log"] = "/etc/passwd"
made = 0
for link, target in targets.items():
    try:
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)
        made += 1
    except OSError as e:
        print(f"{link}: {e}")
print(f"planted {made} symlinks")
print("main.py ->", os.readlink("/box/main.py"))
