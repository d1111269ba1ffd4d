/* JIT'd code starts and joins its own threads: a mutex/condition-variable
   hand-off in a fixed order, a barrier, thread-specific data whose JIT'd
   destructor runs at each thread's exit, and a thread with a 16 MiB stack
   that uses most of it. (No detached thread: one still returning through
   JIT'd code after main returned would race with the controller releasing
   that code, under any executor.) */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;
static char order[16];
static int order_len;

static void *in_turn(void *arg) {
  int me = (int)(long)arg;
  pthread_mutex_lock(&lock);
  while (turn != me) pthread_cond_wait(&turn_changed, &lock);
  order[order_len++] = (char)('A' + me);
  turn++;
  pthread_cond_broadcast(&turn_changed);
  pthread_mutex_unlock(&lock);
  return 0;
}

static pthread_key_t key;
static int destructor_sum;
static void key_destructor(void *value) {
  pthread_mutex_lock(&lock);
  destructor_sum += (int)(long)value;
  pthread_mutex_unlock(&lock);
}

static pthread_barrier_t barrier;
static long shared_total;
static void *with_key(void *arg) {
  pthread_setspecific(key, arg);
  pthread_barrier_wait(&barrier);
  long local = 0;
  for (int i = 0; i < 100000; i++) local += i % 3;
  __atomic_fetch_add(&shared_total, local, __ATOMIC_RELAXED);
  return 0;
}

static int deep(int n) {
  volatile char frame[1024];
  memset((char *)frame, n & 0x7f, sizeof frame);
  if (n == 0) return frame[0];
  return deep(n - 1) + frame[n % 1024];
}
static void *big_stack(void *arg) { return (void *)(long)deep((int)(long)arg); }

int main(void) {
  pthread_t t[8];
  for (long i = 5; i >= 0; i--) pthread_create(&t[i], 0, in_turn, (void *)i);
  for (int i = 0; i < 6; i++) pthread_join(t[i], 0);
  printf("order: %s\n", order);

  pthread_key_create(&key, key_destructor);
  pthread_barrier_init(&barrier, 0, 4);
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, with_key, (void *)(i + 1));
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  printf("total=%ld destructor_sum=%d\n", shared_total, destructor_sum);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 16 << 20);
  void *ret;
  pthread_create(&t[0], &attr, big_stack, (void *)12000L);
  pthread_join(t[0], &ret);
  printf("deep recursion on a 16 MiB stack: %ld\n", (long)ret);

  return 0;
}
