/* Four JIT'd threads call lazily linked functions at the same moment (a
   barrier releases them together): several JIT'd threads wait in calls to
   the controller at once, and the executor must route each result to the
   right one. */
#include <pthread.h>
#include <stdio.h>

int lazy_a(int), lazy_b(int), lazy_c(int), lazy_d(int);
static int (*const fns[4])(int) = {lazy_a, lazy_b, lazy_c, lazy_d};
static pthread_barrier_t barrier;
static int results[4][3];

static void *worker(void *arg) {
  long i = (long)arg;
  pthread_barrier_wait(&barrier);
  for (int k = 0; k < 3; k++) results[i][k] = fns[(i + k) % 4]((int)i * 10 + k);
  return 0;
}

int main(void) {
  pthread_t t[4];
  pthread_barrier_init(&barrier, 0, 4);
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void *)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  int sum = 0;
  for (int i = 0; i < 4; i++) {
    printf("thread %d: %d %d %d\n", i, results[i][0], results[i][1], results[i][2]);
    sum += results[i][0] + results[i][1] + results[i][2];
  }
  printf("sum=%d\n", sum);
  return sum % 97;
}
