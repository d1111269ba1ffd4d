#include <stdio.h>

struct shape {
  const char *name;
  int sides;
};

/* Defined in right.c. */
extern struct shape right_shape;
extern int shared_counter;
int right_is_odd(unsigned n);
int right_scale(int);

/* Data here pointing at code and data there: relocated across objects. */
struct shape *left_view = &right_shape;
int (*left_scaler)(int) = right_scale;

int left_is_even(unsigned n) {
  shared_counter++;
  return n == 0 ? 1 : right_is_odd(n - 1);
}

int main(void) {
  printf("17 is %s, 10 is %s\n", left_is_even(17) ? "even" : "odd",
         left_is_even(10) ? "even" : "odd");
  printf("the %s from the left has %d sides\n", left_view->name,
         left_view->sides);
  left_view->sides += 1;
  printf("scaled: %d; counter: %d\n", left_scaler(left_view->sides),
         shared_counter);
  return right_shape.sides + 17; /* 6 + 17 */
}
