/* raise(SIGSEGV): with the default disposition (as in a C process) the
   executor dies of the signal, silently; the buffered stdout line is lost. */
#include <signal.h>
#include <stdio.h>
int main(void) {
  printf("buffered: lost with the process\n");
  fprintf(stderr, "stderr: raising SIGSEGV\n");
  raise(SIGSEGV);
  printf("still running after raise(SIGSEGV)\n");
  return 17;
}
