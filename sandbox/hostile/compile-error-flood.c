// A compile log flood: a macro that produces thousands of errors. The runner caps the compile log
// at 64 KiB. Expected: CE with at most 65536 bytes on the compile stream.
#define E1 x = ;
#define E2 E1 E1 E1 E1 E1 E1 E1 E1 E1 E1
#define E3 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2
#define E4 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3
#define E5 E4 E4 E4 E4 E4 E4 E4 E4 E4 E4

int main(void) {
  E5
}
