/* Over TCP with the ORC runtime: static constructors (wrapper calls from
   the controller into JIT'd code) and a lazily linked function (a call from
   JIT'd code to the controller), then exit(0). */
#include <stdio.h>
#include <stdlib.h>
static int constructed;
__attribute__((constructor)) static void init(void) { constructed = 42; }
int lazy_twice(int);
int main(void) {
  printf("constructed=%d lazy_twice(21)=%d\n", constructed, lazy_twice(21));
  fflush(stdout);
  exit(0);
}
