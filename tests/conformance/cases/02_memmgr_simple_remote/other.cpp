#include <stdexcept>

struct ParseError {
  int position;
  const char *reason;
};

static int position;

int parse_digit(char c) {
  ++position;
  if (c < '0' || c > '9') throw ParseError{position, "not a digit"};
  return c - '0';
}

int checked_divide(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero");
  return a / b;
}
