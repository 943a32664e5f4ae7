#include <stdio.h>

int main(void) {
  puts("OK");
  return 0;
}
