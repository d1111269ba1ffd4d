/* Unbounded recursion in JIT'd code overflows the call thread's stack: the
   executor dies of SIGSEGV without a message of its own. */
#include <stdio.h>
#include <string.h>
int deep(int n) {
  volatile char frame[4096];
  memset((char *)frame, n, sizeof frame);
  return deep(n + 1) + frame[n % 4096];
}
int main(void) {
  fprintf(stderr, "stderr: recursing\n");
  return deep(0);
}
