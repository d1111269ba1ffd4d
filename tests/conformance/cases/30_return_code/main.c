/* No libc at all: the smallest thing an executor must run. */
static int triangle(int n) {
  int sum = 0;
  for (int i = 1; i <= n; i++)
    sum += i;
  return sum;
}

int main(void) {
  volatile int n = 11; /* keep the loop: not folded to a constant */
  return triangle(n) + 11; /* 66 + 11 */
}
