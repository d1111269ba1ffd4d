/* -lazy: the functions of lazy.o and more.o are linked on their first call.
   The first call goes through a reentry stub: JIT'd code calls the
   controller, which links the body and patches the stub. */
#include <stdio.h>

int lazy_square(int);
int lazy_cube(int);
int lazy_never(int);
const char *more_name(void);
int (*cube_ptr)(int) = lazy_cube;

int main(int argc, char **argv) {
  (void)argv;
  int s = 0;
  for (int i = 0; i < 3; i++) s += lazy_square(i + argc);
  s += cube_ptr(3);
  if (argc > 100) s += lazy_never(1);
  printf("s=%d from %s\n", s, more_name());
  return s % 128;
}
