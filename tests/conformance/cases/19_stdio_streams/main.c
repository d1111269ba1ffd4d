/* The three standard streams, as a C program sees them when llvm-jitlink's
   are inherited: stdin read with fgets, getchar and fread, stdout written
   through stdio (buffered: ~155 KB) and with write(2), stderr unbuffered
   and interleaved. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char line[256];
  int lines = 0;
  long bytes = 0;
  if (fgets(line, sizeof line, stdin)) {
    lines++;
    bytes += (long)strlen(line);
    line[strcspn(line, "\n")] = 0;
    printf("first line: [%s]\n", line);
  }
  int c = getchar();
  printf("next char: %c\n", c);
  fprintf(stderr, "stderr: after reading %d line(s)\n", lines);
  char buf[4096];
  size_t n, rest = 0;
  unsigned sum = 0;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
    rest += n;
    for (size_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
  }
  printf("rest: %zu bytes, hash %08x, eof=%d\n", rest, sum, feof(stdin) != 0);
  fflush(stdout);
  static const char direct[] = "write(2) to fd 1 after fflush\n";
  if (write(1, direct, sizeof direct - 1) < 0) return 9;
  fputs("stderr: before the bulk output\n", stderr);
  for (int i = 0; i < 2500; i++) printf("bulk line %05d: the quick brown fox jumps over the lazy dog\n", i);
  fprintf(stderr, "stderr: done (%ld bytes in first line)\n", bytes);
  return 0;
}
