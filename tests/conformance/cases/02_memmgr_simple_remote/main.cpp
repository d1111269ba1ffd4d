// Every kind of segment the memory manager must lay out (code, read-only
// data, initialized data, a large zero-fill area, a table of code pointers)
// and C++ exceptions thrown in one object and caught in another, which only
// works if the finalize request's EH-frame registration action ran.
#include <cstdio>
#include <cstring>
#include <stdexcept>

struct ParseError {
  int position;
  const char *reason;
};
int parse_digit(char c);                 // other.cpp: throws ParseError
int checked_divide(int a, int b);        // other.cpp: throws std::domain_error

static const char digits_text[] = "0123456789";
static char zero_fill[4 << 20];          // 4 MiB of .bss
static int initialized[1024] = {1, 2, 3, 4, 5};
static int (*const ops[])(int, int) = {checked_divide};

int main() {
  int sum = 0;
  const char *inputs[] = {"12", "7x", "", "99"};
  for (const char *in : inputs) {
    try {
      if (!*in) throw std::invalid_argument("empty input");
      int v = 0;
      for (const char *p = in; *p; ++p) v = v * 10 + parse_digit(*p);
      std::printf("parsed %s -> %d\n", in, v);
      sum += v;
    } catch (const ParseError &e) {
      std::printf("parse error at %d: %s\n", e.position, e.reason);
    } catch (const std::exception &e) {
      std::printf("std::exception: %s\n", e.what());
    }
  }
  for (int d : {4, 0}) {
    try {
      sum += ops[0](100, d);
    } catch (const std::domain_error &e) {
      std::printf("domain_error: %s\n", e.what());
    }
  }
  std::memset(zero_fill + sizeof zero_fill - 4096, 7, 4096);
  long check = 0;
  for (size_t i = 0; i < sizeof zero_fill; i += 512) check += zero_fill[i];
  for (int v : initialized) check += v;
  std::printf("sum=%d check=%ld digits=%zu\n", sum, check, std::strlen(digits_text));
  return sum % 100;
}
