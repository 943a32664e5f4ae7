# Invalid UTF-8 must not crash anything: each bad byte becomes U+FFFD. A valid multi-byte
# character split across two writes (with a pause between them) must still arrive intact.
import sys
import time

out = sys.stdout.buffer
out.write(b"bad: \xff\xfe \xc3\x28 \xa0\xa1 \xed\xa0\x80 end\n")
out.flush()
out.write(b"split: \xe2\x82")
out.flush()
time.sleep(0.2)
out.write(b"\xac euro\n")
out.write(b"truncated at exit: \xf0\x9f")
out.flush()
