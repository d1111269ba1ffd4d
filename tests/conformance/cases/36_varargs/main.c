#include <stdarg.h>
#include <stdio.h>

/* Sum of `count` long longs: 12 of them overflow the 6 integer registers. */
__attribute__((noinline)) static long long sum_ll(int count, ...) {
  va_list ap;
  va_start(ap, count);
  long long s = 0;
  for (int i = 0; i < count; i++)
    s += va_arg(ap, long long);
  va_end(ap);
  return s;
}

/* fmt: 'i' int, 'd' double, 's' string; 11 doubles overflow the 8 SSE
   registers. Walks the list twice through va_copy. */
__attribute__((noinline)) static double mixed(const char *fmt, ...) {
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  double total = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p == 'i')
      total += va_arg(ap, int);
    else if (*p == 'd')
      total += va_arg(ap, double);
    else
      total += (double)va_arg(ap, const char *)[0];
  }
  va_end(ap);
  int strings = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p == 'i')
      (void)va_arg(again, int);
    else if (*p == 'd')
      (void)va_arg(again, double);
    else
      strings += printf("[%s]", va_arg(again, const char *)) > 0;
  }
  va_end(again);
  printf(" %d strings\n", strings);
  return total;
}

__attribute__((format(printf, 2, 3))) static int say(char *buf, const char *fmt,
                                                     ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, 64, fmt, ap);
  va_end(ap);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  return n;
}

int main(void) {
  printf("sum_ll = %lld\n",
         sum_ll(12, 1LL, 2LL, 3LL, 4LL, 5LL, 6LL, 7LL, 8LL, 9LL, 10LL,
                1LL << 40, -(1LL << 33)));
  double m = mixed("ididsdddidddddds", 1, 0.5, 2, 0.25, "A", 1.0, 2.0, 3.0, 3,
                   4.0, 5.0, 6.0, 7.0, 8.0, 9.0, "z");
  printf("mixed = %.3f\n", m);
  char buf[64];
  int n = say(buf, "say: %s %d %.2f %c\n", "varargs", -8, 6.125, 'q');
  printf("vsnprintf wrote %d chars: %s", n, buf);
  return 0;
}
