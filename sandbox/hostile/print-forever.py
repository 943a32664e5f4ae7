# Print forever without a newline. The worker drops everything past the output limit and kills
# the run: OLE, truncated, exactly the limit delivered.
import sys

chunk = "x" * 4096
while True:
    sys.stdout.write(chunk)
