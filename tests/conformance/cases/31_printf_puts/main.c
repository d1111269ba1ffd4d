#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

int main(void) {
  puts("puts: hello from JIT'd code");
  printf("ints: %d %i %u %ld %lld\n", -17, 42, 4000000000u, -1234567890123L,
         9223372036854775807LL);
  printf("hex/oct: %x %X %#x %o %#o\n", 0xbeef, 0xcafe, 255, 8, 8);
  printf("widths: [%5d] [%-5d] [%05d] [%+d] [% d]\n", 42, 42, 42, 42, 42);
  printf("floats: %f %.2f %e %g %g %10.3f\n", 3.14159265, 2.71828, 12345.678,
         0.0001, 1e20, -1.5);
  printf("strings: [%s] [%10s] [%-10s] [%.3s] %c%c%c %%\n", "abc", "right",
         "left", "truncate", 'x', 'y', 'z');
  printf("sizes: %zu %td %jd\n", sizeof(uint64_t), (ptrdiff_t)-3,
         (intmax_t)-99);
  for (char c = 'a'; c <= 'e'; c++)
    putchar(c);
  putchar('\n');
  fputs("fputs to stdout\n", stdout);
  const char raw[] = "fwrite: 17 bytes\n";
  fwrite(raw, 1, strlen(raw), stdout);
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%s-%d-%.1f", "snprintf", 7, 0.25);
  printf("%s (%d chars)\n", buf, n);
  n = snprintf(buf, 8, "%s", "this is cut short");
  printf("truncated: \"%s\", wanted %d\n", buf, n);
  return 0;
}
