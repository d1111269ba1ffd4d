/* Symbols from a library preloaded by path (./libpre.so, built here) and one
   preloaded by soname (libm.so.6): functions and data, the library's
   constructor has run, and its data is shared with JIT'd code. */
#include <stdio.h>

extern int pre_ready, pre_counter;
const char *pre_greeting(void);
int pre_bump(void);
double cbrt(double);
double hypot(double, double);

int main(void) {
  pre_counter += 10;
  int bumped = pre_bump();
  printf("%s: ready=%d bumped=%d counter=%d\n", pre_greeting(), pre_ready, bumped, pre_counter);
  printf("cbrt(27)=%.3f hypot(3,4)=%.3f\n", cbrt(27.0), hypot(3.0, 4.0));
  return bumped;
}
