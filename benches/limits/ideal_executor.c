/* ideal-executor: the least an executor can do in one session, the floor
 * of epc-bench's session metrics under a given controller.
 *
 *   ideal-executor filedescs=R,W SETUP_FILE
 *
 * Writes the bytes of SETUP_FILE (a Setup message recorded from a real
 * executor, so that the controller parses exactly what it would parse from
 * that executor) to W, reads R until the controller closes it or sends
 * anything (a Hangup), and exits 0. It waits as orc-executor does by
 * default (polling and yielding for 100 us before it blocks: a blocked
 * process on an idle CPU of a VM wakes up late). No runtime, no services,
 * no wire protocol: what is left of a session's cost is the controller's
 * and the kernel's. compare-epc.sh reports our session_total against it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  int in, out;
  if (argc != 3 || sscanf(argv[1], "filedescs=%d,%d", &in, &out) != 2) {
    fprintf(stderr, "usage: ideal-executor filedescs=R,W SETUP_FILE\n");
    return 2;
  }
  static char setup[1 << 16];
  int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, setup, sizeof setup);
  if (n <= 0) {
    perror(argv[2]);
    return 2;
  }
  close(fd);
  for (ssize_t done = 0; done < n;) {
    ssize_t w = write(out, setup + done, (size_t)(n - done));
    if (w <= 0)
      return 1;
    done += w;
  }
  /* A controller of LLVM 22 closes the pipe; a newer one sends Hangup
   * first. Either ends the session here. */
  struct pollfd p = {.fd = in, .events = POLLIN};
  for (double start = now_us(); poll(&p, 1, 0) == 0 && now_us() - start < 100;)
    sched_yield();
  char buf[4096];
  (void)read(in, buf, sizeof buf);
  return 0;
}
