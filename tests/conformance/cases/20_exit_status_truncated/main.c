/* main returns 300: the controller passes run-as-main's int result to
   exit(), so the status is 300 & 0xff = 44. */
#include <stdio.h>
int main(void) {
  printf("returning 300\n");
  return 300;
}
