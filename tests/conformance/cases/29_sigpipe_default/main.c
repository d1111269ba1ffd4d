/* SIGPIPE as in a C process: default disposition, not blocked, in main and
   in a thread it starts; a write to a pipe nobody reads then kills the
   executor silently, as under LLVM's executor. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void report(const char *who) {
  sigset_t mask;
  struct sigaction sa;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  sigaction(SIGPIPE, NULL, &sa);
  printf("%s: SIGPIPE blocked=%d default=%d\n", who,
         sigismember(&mask, SIGPIPE), sa.sa_handler == SIG_DFL);
  fflush(stdout);
}

static void *thread_main(void *arg) {
  (void)arg;
  report("thread");
  return NULL;
}

int main(void) {
  int fds[2];
  pthread_t t;
  report("main");
  pthread_create(&t, NULL, thread_main, NULL);
  pthread_join(t, NULL);
  if (pipe(fds) != 0)
    return 2;
  close(fds[0]);
  fprintf(stderr, "stderr: writing to a pipe nobody reads\n");
  if (write(fds[1], "x", 1) < 0)
    perror("write survived SIGPIPE");
  printf("still running after SIGPIPE\n");
  return 17;
}
