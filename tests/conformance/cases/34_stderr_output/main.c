#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  printf("stdout: before\n");
  fprintf(stderr, "stderr: warning %d of %d\n", 1, 2);
  fputs("stderr: fputs line\n", stderr);
  fputc('!', stderr);
  fputc('\n', stderr);
  FILE *f = fopen("/nonexistent-orc-corpus/dir/file", "r");
  if (!f) {
    int saved = errno;
    perror("fopen /nonexistent-orc-corpus/dir/file");
    fprintf(stderr, "strerror: %s\n", strerror(saved));
  }
  printf("stdout: after (errno was %s)\n", f ? "unset" : "ENOENT");
  return 5;
}
