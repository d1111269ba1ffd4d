// Exceptions across three JIT'd objects with the ORC runtime (which
// registers their EH frames): a class hierarchy caught by base, rethrow,
// nested try blocks, destructors run in order while unwinding, an exception
// thrown out of a comparator through libc's qsort, and one thrown from a
// function called through a pointer published by another object.
#include <cstdio>
#include <cstdlib>
#include "shapes.h"

static int compare_or_throw(const void *a, const void *b) {
  int x = *static_cast<const int *>(a), y = *static_cast<const int *>(b);
  if (x == 13 || y == 13) throw Unlucky(13);
  return (x > y) - (x < y);
}

int main() {
  int caught = 0;
  for (int kind = 0; kind < 4; ++kind) {
    try {
      try {
        make_trouble(kind);
        std::printf("kind %d: no trouble\n", kind);
      } catch (const Unlucky &u) {
        std::printf("kind %d: inner caught Unlucky(%d), rethrowing\n", kind, u.number);
        throw;
      }
    } catch (const Trouble &t) {
      std::printf("kind %d: outer caught %s (code %d)\n", kind, t.name(), t.code);
      caught += t.code;
    }
  }
  int values[] = {5, 3, 13, 8, 1};
  try {
    std::qsort(values, 5, sizeof values[0], compare_or_throw);
  } catch (const Unlucky &u) {
    std::printf("qsort interrupted by Unlucky(%d)\n", u.number);
    caught += 100;
  }
  try {
    trouble_hook(7);
  } catch (const Trouble &t) {
    std::printf("hook threw %s\n", t.name());
    caught += 1000;
  }
  std::printf("caught=%d\n", caught);
  return caught % 128;
}
