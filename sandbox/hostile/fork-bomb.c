// Fork bomb: every process forks forever. The pids limit (64) stops the growth; the wall clock
// ends the run (TLE). The first process says once that fork() was refused.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  pid_t first = getpid();
  int told = 0;
  for (;;) {
    if (fork() < 0 && !told && getpid() == first) {
      printf("fork refused: %s\n", strerror(errno));
      told = 1;
    }
  }
}
