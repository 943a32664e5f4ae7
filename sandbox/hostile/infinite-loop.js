// A busy loop: only the wall-clock limit ends it (TLE).
for (;;) {
  // spin
}
