int left_is_even(unsigned n);

struct shape {
  const char *name;
  int sides;
};

struct shape right_shape = {"pentagon", 5};
int shared_counter;

int right_is_odd(unsigned n) {
  shared_counter++;
  return n == 0 ? 0 : left_is_even(n - 1);
}

int right_scale(int x) { return x * 100 + shared_counter; }
