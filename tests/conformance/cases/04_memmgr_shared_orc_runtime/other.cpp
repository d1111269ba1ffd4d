#include <cstdio>

struct Frame {
  int depth;
  ~Frame() { std::printf("unwinding depth %d\n", depth); }
};

int throw_through(int depth) {
  Frame f{depth};
  if (depth == 0) throw 10;
  return throw_through(depth - 1) + 1;
}
