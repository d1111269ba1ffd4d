/* Over TCP (orc-executor listen=127.0.0.1:PORT, llvm-jitlink
   -oop-executor-connect=...): the executor's own stdin, stdout and stderr
   are the program's. The program ends with exit(5): with LLVM 22 a TCP
   session that ends normally is never closed by either side (llvm-jitlink
   waits forever), so the case ends the way that does terminate. */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  char line[128];
  int n = 0;
  while (fgets(line, sizeof line, stdin)) n++;
  printf("%s: %d lines on the executor's stdin, argc=%d\n", argv[0], n, argc);
  fprintf(stderr, "stderr of the executor\n");
  exit(5);
}
