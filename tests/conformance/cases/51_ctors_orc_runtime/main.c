#include <stdio.h>

extern int other_ready;

static int order[8];
static int count;

static void note(int id) { order[count++] = id; }

__attribute__((constructor(120))) static void second(void) { note(120); }
__attribute__((constructor)) static void last(void) { note(65535); }
__attribute__((constructor(105))) static void first(void) { note(105); }
__attribute__((destructor)) static void goodbye(void) { puts("destructor ran"); }

int main(void) {
  printf("constructors in main.o ran %d times:", count);
  for (int i = 0; i < count; i++)
    printf(" %d", order[i]);
  printf("\nother.o constructor ran: %s\n", other_ready ? "yes" : "no");
  return count * 13 + other_ready; /* 3 * 13 + 3 */
}
