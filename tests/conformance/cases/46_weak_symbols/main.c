#include <stdio.h>

__attribute__((weak)) int verbosity = 1;
__attribute__((weak)) const char *backend(void) { return "default backend"; }
__attribute__((weak)) int retries(void) { return 2; } /* not overridden */

extern int optional_feature(void) __attribute__((weak));
extern int optional_table[] __attribute__((weak));

int main(void) {
  printf("verbosity %d, %s, retries %d\n", verbosity, backend(), retries());
  printf("optional_feature %s\n", optional_feature ? "present" : "absent");
  printf("optional_table %s\n", optional_table ? "present" : "absent");
  int present = (verbosity == 4) + (optional_feature == 0) + (optional_table == 0);
  return present; /* 3 */
}
