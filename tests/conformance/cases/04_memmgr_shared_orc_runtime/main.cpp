// The ORC runtime over the shared-memory mapper: its platform bootstrap,
// static initializers (with priorities), a C++ static object whose
// destructor is registered with __cxa_atexit, and exceptions (the ORC
// runtime registers the EH frames itself).
#include <cstdio>
#include <stdexcept>
#include <cstring>

// Constant-initialized, so it is ready before any constructor runs.
static char trace[64];

struct Logger {
  const char *name;
  explicit Logger(const char *n) : name(n) {
    std::strcat(trace, name);
    try {
      if (name[0] == 'b') throw std::runtime_error("thrown in a constructor");
    } catch (const std::exception &e) {
      std::strcat(trace, "(caught)");
    }
  }
  ~Logger() { std::printf("~Logger %s\n", name); }
};

__attribute__((init_priority(2000))) Logger late("b");
__attribute__((init_priority(1000))) Logger early("a");

int throw_through(int depth);  // other.cpp

int main() {
  std::printf("trace=%s\n", trace);
  int caught = 0;
  for (int depth = 0; depth < 4; ++depth) {
    try {
      throw_through(depth);
    } catch (int v) {
      caught += v;
    }
  }
  std::printf("caught=%d\n", caught);
  return 0;
}
