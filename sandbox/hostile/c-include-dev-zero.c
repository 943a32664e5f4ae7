// Compile-time bomb: include an endless file. The preprocessor reads /dev/zero until it runs out
// of memory or time. Expected: CE, within the compile limit.
#include "/dev/zero"

int main(void) { return 0; }
