#include <math.h>
#include <stdio.h>

int main(void) {
  printf("pow(2, 0.5)     = %.12f\n", pow(2.0, 0.5));
  printf("exp(1)          = %.12f\n", exp(1.0));
  printf("log10(12345)    = %.12f\n", log10(12345.0));
  printf("atan2(1, -1)    = %.12f\n", atan2(1.0, -1.0));
  printf("fmod(10.5, 3)   = %.12f\n", fmod(10.5, 3.0));
  printf("hypot(5, 12)    = %.12f\n", hypot(5.0, 12.0));
  printf("erf(0.5)        = %.12f\n", erf(0.5));
  printf("tgamma(5.5)     = %.12f\n", tgamma(5.5));
  printf("cbrt(-27)       = %.12f\n", cbrt(-27.0));
  int e;
  double m = frexp(48.0, &e);
  printf("frexp(48)       = %.3f * 2^%d\n", m, e);
  printf("nextafter(1, 2) - 1 = %a\n", nextafter(1.0, 2.0) - 1.0);
  return (int)floor(hypot(5.0, 12.0)); /* 13 */
}
