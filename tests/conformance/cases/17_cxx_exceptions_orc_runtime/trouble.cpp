#include <cstdio>
#include "shapes.h"

struct Noisy {
  const char *what;
  ~Noisy() { std::printf("  ~Noisy(%s)\n", what); }
};

static void deeper(int kind) {
  Noisy n{"deeper"};
  if (kind == 1) throw Unlucky(4);
  if (kind == 2) throw Fatal();
}

void make_trouble(int kind) {
  Noisy n{"make_trouble"};
  if (kind == 3) {
    try {
      throw Trouble(1);
    } catch (Trouble &t) {
      t.code += 2;
      throw;
    }
  }
  deeper(kind);
}
