#include <stdio.h>

static int calls;

int lazy_square(int x) {
  calls++;
  printf("square(%d), call %d\n", x, calls);
  return x * x;
}

int lazy_cube(int x) { return x * x * x; }

int lazy_never(int x) {
  puts("never called");
  return x;
}
