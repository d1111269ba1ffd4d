#include <stdio.h>

extern int tally_step;
long tally_add(int times);
int tally_visit(int from, int to, int (*visit)(int));
const char *tally_name(void);

static int seen;

static int is_square(int n) {
  seen++;
  for (int i = 0; i * i <= n; i++)
    if (i * i == n)
      return 1;
  return 0;
}

int main(void) {
  printf("%s: add 3 -> %ld\n", tally_name(), tally_add(3));
  tally_step = 10; /* the library's own data, written from JIT'd code */
  printf("step %d: add 2 -> %ld\n", tally_step, tally_add(2));
  int squares = tally_visit(1, 50, is_square);
  printf("squares in 1..50: %d (callback ran %d times)\n", squares, seen);
  return 0;
}
