// Print forever without a newline, one byte at a time through stdio: OLE, truncated.
#include <stdio.h>

int main(void) {
  for (;;) putchar('z');
}
