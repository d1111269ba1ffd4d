/* -L lib -L lib3 -louter -lthird: two libraries found in two search folders,
   one with its own dependency; callback from a library into JIT'd code;
   data symbols of the libraries and of their dependency. */
#include <stdio.h>

extern int inner_calls, outer_ready;
extern long third_table[4];
int inner_twice(int);
int outer_apply(int (*f)(int), int);
const char *third_name(void);

static int add_one(int x) { return x + 1; }

int main(void) {
  int r = outer_apply(add_one, 20);
  r += inner_twice(5);
  third_table[3] += r;
  printf("r=%d inner_calls=%d outer_ready=%d %s=%ld\n", r, inner_calls, outer_ready, third_name(), third_table[3]);
  return r;
}
