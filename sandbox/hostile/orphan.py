# Start a detached background process (new session, double fork, ignores SIGHUP/SIGTERM) that
# would print and write a marker after 1.5 s, then exit at once. The run must end with the main
# program, and the orphan must die with it: the marker never appears and no process remains on
# the host (the test looks for "sleep 1.515" in the host's process list). Expected: OK.
import subprocess

subprocess.Popen(
    [
        "sh",
        "-c",
        "trap '' HUP TERM; (sleep 1.515; echo MARKER-FROM-ORPHAN; echo x > /box/marker) &",
    ],
    start_new_session=True,
)
print("main program exits now")
