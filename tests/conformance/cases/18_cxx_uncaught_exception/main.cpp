// An exception nobody catches: no handler is found, std::terminate prints
// the exception's type and what(), and the process aborts before any
// destructor on the way runs (the search phase fails, nothing is unwound).
#include <cstdio>
#include <stdexcept>

struct Noisy {
  ~Noisy() { std::puts("unwound: not expected, terminate does not unwind"); }
};

void fail(int depth) {
  Noisy n;
  if (depth == 0) throw std::logic_error("nobody catches this");
  fail(depth - 1);
}

int main() {
  std::printf("before\n");
  std::fflush(stdout);
  Noisy n;
  fail(3);
  return 0;
}
