#include <stdio.h>

struct account {
  const char *owner;
  long balance;
  int history[4];
};

int primes[6] = {2, 3, 5, 7, 11, 13};
struct account acct = {"jit", 100, {0}};
long zeroed[512];              /* .bss */
static char greeting[] = "hello, world";
int *cursor = &primes[2];      /* pointer to data, relocated */
struct account *acct_ptr = &acct;
const int steps[] = {10, -25, 40, -5};

static int next_ticket(void) {
  static int ticket = 1000; /* static local in .data */
  return ticket++;
}

static int calls(void) {
  static int n; /* static local in .bss */
  return ++n;
}

int main(void) {
  for (int i = 0; i < 6; i++)
    primes[i] *= 10;
  *cursor += 1;
  cursor++;
  *cursor += 2;
  for (int i = 0; i < 4; i++) {
    acct_ptr->balance += steps[i];
    acct_ptr->history[i] = (int)acct_ptr->balance;
  }
  long nonzero = 0;
  for (int i = 0; i < 512; i++)
    nonzero += zeroed[i] != 0;
  zeroed[511] = 7;
  greeting[0] = 'H';
  greeting[7] = 'W';
  for (int i = 0; i < 3; i++)
    next_ticket();
  for (int i = 0; i < 4; i++)
    calls();

  printf("primes:");
  for (int i = 0; i < 6; i++)
    printf(" %d", primes[i]);
  printf("\ncursor at index %td\n", cursor - primes);
  printf("%s balance %ld history %d %d %d %d\n", acct.owner, acct.balance,
         acct.history[0], acct.history[1], acct.history[2], acct.history[3]);
  printf("bss nonzero before=%ld last=%ld\n", nonzero, zeroed[511]);
  printf("greeting: %s\n", greeting);
  printf("next ticket %d, calls %d\n", next_ticket(), calls());
  return 0;
}
