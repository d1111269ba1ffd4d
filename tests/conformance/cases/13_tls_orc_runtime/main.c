/* Thread-local storage in JIT'd code (the ORC runtime implements
   __tls_get_addr for JIT'd TLS): initialized, zero-initialized and an
   extern variable from another object; each thread sees its own copy and
   the main thread's copies are untouched. Compiled -fPIC: LLVM 22's JITLink
   handles the general-dynamic model only (no local-dynamic, so no static
   __thread variables). */
#include <pthread.h>
#include <stdio.h>

__thread int counter = 5;
__thread char name[16] = "main";
__thread long zeroed;
extern __thread int other_tls;

int *counter_addr(void) { return &counter; }

struct result {
  char name[16];
  int counter, other;
  long zeroed;
  int own_copy;
};
static struct result results[4];
static int *main_counter;

static void *worker(void *arg) {
  long id = (long)arg;
  snprintf(name, sizeof name, "worker%ld", id);
  for (int i = 0; i < 1000; i++) {
    counter++;
    zeroed += id;
    other_tls++;
  }
  struct result *r = &results[id - 1];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->counter = counter;
  r->other = other_tls;
  r->zeroed = zeroed;
  r->own_copy = counter_addr() != main_counter;
  return (void *)(long)counter;
}

int main(void) {
  pthread_t t[4];
  main_counter = counter_addr();
  counter += 1;
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void *)(i + 1));
  long total = 0;
  for (int i = 0; i < 4; i++) {
    void *ret;
    pthread_join(t[i], &ret);
    total += (long)ret;
  }
  for (int i = 0; i < 4; i++)
    printf("%s: counter=%d zeroed=%ld other=%d own_copy=%d\n", results[i].name, results[i].counter,
           results[i].zeroed, results[i].other, results[i].own_copy);
  printf("%s: counter=%d zeroed=%ld other=%d total=%ld same=%d\n", name, counter, zeroed, other_tls,
         total, main_counter == counter_addr());
  return 0;
}
