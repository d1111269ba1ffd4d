#include "shapes.h"

static void throwing_hook(int v) {
  if (v > 5) throw Fatal();
}
void (*trouble_hook)(int) = throwing_hook;
