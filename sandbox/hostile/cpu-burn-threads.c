// CPU time in threads: four threads spin forever. Their CPU time, summed over the threads, uses
// up the CPU-time limit (RUN_CPU_MS) before the wall clock runs out: TLE, early.
#include <pthread.h>
#include <stdio.h>

static void *spin(void *arg) {
  (void)arg;
  for (;;) {
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  for (int i = 0; i < 3; i++) pthread_create(&t, NULL, spin, NULL);
  printf("burning in 4 threads\n");
  fflush(stdout);
  spin(NULL);
}
