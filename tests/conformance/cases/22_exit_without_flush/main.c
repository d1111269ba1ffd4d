/* _exit(9) skips stdio's flush: the buffered stdout line is lost (stdout is
   a file here, fully buffered), the unbuffered stderr line is not. The
   executor ends with the program, so llvm-jitlink sees a disconnect. */
#include <stdio.h>
#include <unistd.h>
int main(void) {
  printf("buffered: lost by _exit\n");
  fprintf(stderr, "stderr: written before _exit\n");
  _exit(9);
}
