/* main returns -2: the status is 254. */
#include <stdio.h>
int main(int argc, char **argv) {
  printf("argc=%d argv[0]=%s; returning -2\n", argc, argv[0]);
  return -2;
}
