/* limits: what this machine allows at best for the figures epc-bench
 * measures, with an "executor" that does nothing but answer.
 *
 * A child process on the other end of two pipes (the filedescs=R,W plumbing)
 * answers every request with a 32-byte reply. Requests have the sizes of
 * epc-bench's calls: a 32-byte header (its first 8 bytes: the message size)
 * and a 24-byte body, like one writeUInt64s; or a 1 MiB + 24-byte body, like
 * one writeBuffers of 1 MiB. benches/README.md defines the figures:
 *
 *   pipe_rtt_1write     ns/rt   request and reply each one write and one read
 *   pipe_rtt_split      ns/rt   header and body written (and read) apart, as
 *                               LLVM's FDSimpleRemoteEPCTransport does
 *   pipe_rtt_handoff    ns/rt   split, and a listener thread receives the
 *                               reply and wakes the caller, as SimpleRemoteEPC
 *                               does: the floor of rtt_write_u64
 *   pipe_pipelined_k16  msgs/s  split, 16 requests in flight
 *   pipe_bulk_1mib      MB/s    1 MiB requests one after the other (MB = 1e6 B)
 *   memcpy_1mib         MB/s    memcpy within the cache
 *   memcpy_64mib        MB/s    memcpy from and to memory
 *   fork_exec_true      ms      fork, exec /bin/true, waitpid
 *
 * Each figure is the median of --reps repetitions.
 * Usage: limits [--iters N] [--reps R]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { HEADER = 32, SMALL_BODY = 24, REPLY = 32 };
#define BULK_BODY ((1u << 20) + SMALL_BODY)

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      fail("write");
    p += w;
    n -= (size_t)w;
  }
}

/* 0 at end of input before the first byte, 1 once n bytes are read. */
static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      fail("read");
    if (r == 0) {
      if (got == 0)
        return 0;
      fprintf(stderr, "limits: message cut short\n");
      exit(1);
    }
    got += (size_t)r;
  }
  return 1;
}

static uint64_t message_size(const char *header) {
  uint64_t size;
  memcpy(&size, header, sizeof size);
  return size;
}

/* A message of HEADER + body bytes whose header says so. */
static char *new_message(size_t body) {
  char *m = malloc(HEADER + body);
  if (!m)
    fail("malloc");
  memset(m, 0x2a, HEADER + body);
  uint64_t size = HEADER + body;
  memcpy(m, &size, sizeof size);
  return m;
}

/* The answering child: reads requests until the pipe closes. With split,
   the header and the body are two reads, else one read takes what is
   there and a second one only completes a short first read. */
static void answer(int in, int out, int split) {
  char *buf = malloc(HEADER + BULK_BODY), reply[REPLY] = {0};
  uint64_t size = REPLY;
  memcpy(reply, &size, sizeof size);
  for (;;) {
    size_t have;
    if (split) {
      if (!read_all(in, buf, HEADER))
        break;
      have = HEADER;
    } else {
      ssize_t r;
      do
        r = read(in, buf, HEADER + BULK_BODY);
      while (r < 0 && errno == EINTR);
      if (r <= 0)
        break;
      have = (size_t)r;
      if (have < HEADER) {
        read_all(in, buf + have, HEADER - have);
        have = HEADER;
      }
    }
    uint64_t total = message_size(buf);
    if (total > have)
      read_all(in, buf + have, total - have);
    write_all(out, reply, REPLY);
  }
  _exit(0);
}

struct child {
  pid_t pid;
  int to, from; /* our ends: requests, replies */
};

static struct child start_child(int split) {
  int req[2], rep[2];
  if (pipe(req) != 0 || pipe(rep) != 0)
    fail("pipe");
  struct child c = {fork(), req[1], rep[0]};
  if (c.pid < 0)
    fail("fork");
  if (c.pid == 0) {
    close(req[1]);
    close(rep[0]);
    answer(req[0], rep[1], split);
  }
  close(req[0]);
  close(rep[1]);
  return c;
}

static void stop_child(struct child *c) {
  close(c->to);
  close(c->from);
  waitpid(c->pid, NULL, 0);
}

static void send_request(struct child *c, const char *m, size_t body, int split) {
  if (split) {
    write_all(c->to, m, HEADER);
    write_all(c->to, m + HEADER, body);
  } else {
    write_all(c->to, m, HEADER + body);
  }
}

/* ns per round trip, the caller reading its own replies. */
static double rtt(long iters, int split) {
  struct child c = start_child(split);
  char *m = new_message(SMALL_BODY), reply[REPLY];
  long warm = iters / 10 + 1;
  double t0 = 0;
  for (long i = -warm; i < iters; i++) {
    if (i == 0)
      t0 = now_s();
    send_request(&c, m, SMALL_BODY, split);
    read_all(c.from, reply, REPLY);
  }
  double ns = (now_s() - t0) * 1e9 / (double)iters;
  stop_child(&c);
  free(m);
  return ns;
}

/* The reply reaches the caller through a listener thread. */
struct mailbox {
  pthread_mutex_t lock;
  pthread_cond_t arrived;
  long replies;
  int from;
};

static void *listen_replies(void *arg) {
  struct mailbox *mb = arg;
  char reply[REPLY];
  while (read_all(mb->from, reply, REPLY)) {
    pthread_mutex_lock(&mb->lock);
    mb->replies++;
    pthread_cond_signal(&mb->arrived);
    pthread_mutex_unlock(&mb->lock);
  }
  return NULL;
}

static double rtt_handoff(long iters) {
  struct child c = start_child(1);
  struct mailbox mb = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                       c.from};
  pthread_t listener;
  if (pthread_create(&listener, NULL, listen_replies, &mb) != 0)
    fail("pthread_create");
  char *m = new_message(SMALL_BODY);
  long warm = iters / 10 + 1, sent = 0;
  double t0 = 0;
  for (long i = -warm; i < iters; i++) {
    if (i == 0)
      t0 = now_s();
    send_request(&c, m, SMALL_BODY, 1);
    sent++;
    pthread_mutex_lock(&mb.lock);
    while (mb.replies < sent)
      pthread_cond_wait(&mb.arrived, &mb.lock);
    pthread_mutex_unlock(&mb.lock);
  }
  double ns = (now_s() - t0) * 1e9 / (double)iters;
  close(c.to); /* the child exits, the listener sees the end */
  pthread_join(listener, NULL);
  close(c.from);
  waitpid(c.pid, NULL, 0);
  free(m);
  return ns;
}

/* Messages per second with `window` requests in flight. */
static double pipelined(long count, int window) {
  struct child c = start_child(1);
  char *m = new_message(SMALL_BODY), reply[REPLY];
  long sent = 0, done = 0;
  double t0 = now_s();
  while (done < count) {
    for (; sent < count && sent - done < window; sent++)
      send_request(&c, m, SMALL_BODY, 1);
    read_all(c.from, reply, REPLY);
    done++;
  }
  double rate = (double)count / (now_s() - t0);
  stop_child(&c);
  free(m);
  return rate;
}

/* MB/s of 1 MiB payloads sent one request at a time. */
static double bulk(long mib) {
  struct child c = start_child(1);
  char *m = new_message(BULK_BODY), reply[REPLY];
  double t0 = 0;
  for (long i = -2; i < mib; i++) {
    if (i == 0)
      t0 = now_s();
    send_request(&c, m, BULK_BODY, 1);
    read_all(c.from, reply, REPLY);
  }
  double rate = (double)mib * (1u << 20) / (now_s() - t0) / 1e6;
  stop_child(&c);
  free(m);
  return rate;
}

/* MB/s of memcpy of `size` bytes, repeated for at least 100 ms. */
static double copy_rate(size_t size) {
  char *src = malloc(size), *dst = malloc(size);
  if (!src || !dst)
    fail("malloc");
  memset(src, 1, size);
  memset(dst, 2, size);
  memcpy(dst, src, size);
  long n = 0;
  double t0 = now_s(), t;
  do {
    memcpy(dst, src, size);
    /* The copy has an observer: it cannot be dropped or merged. */
    __asm__ volatile("" : : "r"(dst) : "memory");
    n++;
  } while ((t = now_s() - t0) < 0.1);
  free(src);
  free(dst);
  return (double)n * (double)size / t / 1e6;
}

/* ms per fork + exec(/bin/true) + waitpid, over 20 of them. */
static double fork_exec(void) {
  double t0 = now_s();
  for (int i = 0; i < 20; i++) {
    pid_t pid = fork();
    if (pid < 0)
      fail("fork");
    if (pid == 0) {
      execl("/bin/true", "true", (char *)NULL);
      _exit(127);
    }
    waitpid(pid, NULL, 0);
  }
  return (now_s() - t0) * 1e3 / 20;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

enum figure { RTT_1WRITE, RTT_SPLIT, RTT_HANDOFF, PIPELINED, BULK, MEMCPY_1MIB,
              MEMCPY_64MIB, FORK_EXEC };

static double measure(enum figure f, long iters) {
  switch (f) {
  case RTT_1WRITE: return rtt(iters, 0);
  case RTT_SPLIT: return rtt(iters, 1);
  case RTT_HANDOFF: return rtt_handoff(iters);
  case PIPELINED: return pipelined(iters * 4, 16);
  case BULK: return bulk(256);
  case MEMCPY_1MIB: return copy_rate(1u << 20);
  case MEMCPY_64MIB: return copy_rate(64u << 20);
  case FORK_EXEC: return fork_exec();
  }
  return 0;
}

int main(int argc, char **argv) {
  long iters = 20000, reps = 5;
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    long *opt = !strcmp(argv[i], "--iters") ? &iters
                : !strcmp(argv[i], "--reps") ? &reps
                                             : NULL;
    if (opt && i + 1 < argc)
      *opt = strtol(argv[++i], &end, 10);
    if (!opt || !end || *end || *opt < 1 || reps > 99) {
      fprintf(stderr, "usage: limits [--iters N] [--reps R (1-99)]\n");
      return 2;
    }
  }
  /* The child's end of a pipe may be gone when we write. */
  signal(SIGPIPE, SIG_IGN);
  static const struct {
    const char *name, *unit;
    enum figure f;
  } figures[] = {
      {"pipe_rtt_1write", "ns/rt", RTT_1WRITE},
      {"pipe_rtt_split", "ns/rt", RTT_SPLIT},
      {"pipe_rtt_handoff", "ns/rt", RTT_HANDOFF},
      {"pipe_pipelined_k16", "msgs/s", PIPELINED},
      {"pipe_bulk_1mib", "MB/s", BULK},
      {"memcpy_1mib", "MB/s", MEMCPY_1MIB},
      {"memcpy_64mib", "MB/s", MEMCPY_64MIB},
      {"fork_exec_true", "ms", FORK_EXEC},
  };
  printf("# limits iters=%ld reps=%ld request=%d+%d B reply=%d B\n", iters,
         reps, HEADER, SMALL_BODY, REPLY);
  for (size_t k = 0; k < sizeof figures / sizeof figures[0]; k++) {
    double v[99];
    for (long r = 0; r < reps; r++)
      v[r] = measure(figures[k].f, iters);
    qsort(v, (size_t)reps, sizeof v[0], by_value);
    double med = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
    printf("%s %.*f %s\n", figures[k].name, med >= 1000 ? 0 : med >= 10 ? 1 : 3,
           med, figures[k].unit);
    fflush(stdout);
  }
  return 0;
}
