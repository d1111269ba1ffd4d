#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void check_invariant(int value) {
  if (value != 42) {
    fprintf(stderr, "invariant broken: %d != 42, aborting\n", value);
    abort();
  }
}

__attribute__((noinline)) static void process(int value) {
  check_invariant(value * 2);
}

int main(void) {
  printf("flushed before abort\n");
  fflush(stdout);
  printf("buffered, lost at abort\n");
  process(20);
  printf("not reached\n");
  return 0;
}
