#include <stdio.h>
#include <stdlib.h>

/* Buffered on purpose: stdout is a file here, so only exit()'s flush shows
   these lines. */
__attribute__((noinline)) static void leave(int depth) {
  printf("leaving at depth %d\n", depth);
  exit(3);
}

__attribute__((noinline)) static int descend(int depth) {
  printf("descend %d\n", depth);
  if (depth == 3)
    leave(depth);
  return descend(depth + 1) + 1;
}

int main(void) {
  printf("main starts\n");
  int r = descend(1);
  printf("not reached %d\n", r);
  return 0;
}
