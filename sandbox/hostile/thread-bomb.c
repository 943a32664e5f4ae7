// Thread bomb: start spinning threads until the kernel refuses (threads count against the pids
// limit), then spin forever. Expected: TLE, after "thread refused".
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void *spin(void *arg) {
  (void)arg;
  for (;;) {
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  int n = 0, err;
  while ((err = pthread_create(&t, NULL, spin, NULL)) == 0) n++;
  printf("thread refused after %d threads: %s\n", n, strerror(err));
  spin(NULL);
}
