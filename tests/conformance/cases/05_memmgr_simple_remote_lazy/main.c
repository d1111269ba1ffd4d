/* Lazy linking over the simple-remote memory manager: each function of
   lazy.o is linked on its first call, through a reentry stub that calls
   back into the controller. */
#include <stdio.h>

int lazy_square(int);
int lazy_cube(int);
int lazy_never(int);
int (*const cube_ptr)(int) = lazy_cube;

int main(int argc, char **argv) {
  int s = 0;
  for (int i = 0; i < 3; i++) s += lazy_square(i + argc);
  s += cube_ptr(3);
  s += cube_ptr(2);
  if (argc > 100) s += lazy_never(1);
  printf("s=%d\n", s);
  return s % 128;
}
