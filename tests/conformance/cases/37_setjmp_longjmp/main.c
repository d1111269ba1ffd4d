#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

static jmp_buf env;
static sigjmp_buf senv;

__attribute__((noinline)) static int dive(int depth, int limit) {
  if (depth == limit)
    longjmp(env, depth);
  return dive(depth + 1, limit) + 1; /* never returns normally */
}

__attribute__((noinline)) static void checked_divide(int a, int b) {
  if (b == 0)
    longjmp(env, -1);
  printf("  %d / %d = %d\n", a, b, a / b);
}

int main(void) {
  volatile int recoveries = 0;
  int r = setjmp(env);
  if (r == 0) {
    dive(0, 40);
    puts("not reached");
  }
  printf("came back from depth %d\n", r);
  recoveries++;

  static const int divisors[] = {4, 0, 2, 0, 0, 1};
  for (volatile int i = 0; i < 6; i++) {
    if (setjmp(env) == 0)
      checked_divide(100, divisors[i]);
    else {
      printf("  recovered from division by zero at %d\n", i);
      recoveries++;
    }
  }

  sigset_t set, now;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  if (sigsetjmp(senv, 1) == 0) {
    sigprocmask(SIG_BLOCK, &set, NULL); /* undone by siglongjmp */
    siglongjmp(senv, 5);
  }
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("SIGUSR1 blocked after siglongjmp: %s\n",
         sigismember(&now, SIGUSR1) ? "yes" : "no");
  recoveries++;
  printf("recoveries: %d\n", recoveries);
  return recoveries;
}
