#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 2048
#define OPS 250000

static unsigned char *block[SLOTS];
static size_t size[SLOTS];
static unsigned char tag[SLOTS];
static uint32_t state = 20240607;
static long bad;

static uint32_t rnd(void) { /* a fixed LCG: the same run every time */
  state = state * 1664525u + 1013904223u;
  return state >> 8;
}

static size_t pick_size(void) {
  return rnd() % 64 == 0 ? 4096 + rnd() % 61440 : 1 + rnd() % 1024;
}

/* Counts the bytes of slot i that are not its tag, over its first n bytes. */
static void verify(int i, size_t n) {
  for (size_t k = 0; k < n; k++)
    bad += block[i][k] != tag[i];
}

static void release(int i) {
  verify(i, size[i]);
  free(block[i]);
  block[i] = NULL;
}

int main(void) {
  long mallocs = 0, callocs = 0, reallocs = 0, aligned = 0, frees = 0;
  for (int op = 0; op < OPS; op++) {
    int i = rnd() % SLOTS;
    int kind = rnd() % 10;
    if (block[i] && kind >= 7) {
      release(i);
      frees++;
    } else if (block[i] && kind >= 4) {
      size_t n = pick_size(), keep = n < size[i] ? n : size[i];
      block[i] = realloc(block[i], n);
      verify(i, keep); /* the common prefix survives */
      memset(block[i], tag[i], n);
      size[i] = n;
      reallocs++;
    } else if (block[i]) {
      release(i);
      frees++;
    } else {
      size[i] = pick_size();
      tag[i] = (unsigned char)(rnd() | 1);
      if (kind == 0) {
        block[i] = calloc(1, size[i]);
        for (size_t k = 0; k < size[i]; k++)
          bad += block[i][k] != 0;
        callocs++;
      } else if (kind == 1) {
        void *p = NULL;
        size_t align = (size_t)64 << (rnd() % 7);
        bad += posix_memalign(&p, align, size[i]) != 0 || (uintptr_t)p % align;
        block[i] = p;
        aligned++;
      } else {
        block[i] = malloc(size[i]);
        mallocs++;
      }
      memset(block[i], tag[i], size[i]);
    }
  }
  long live = 0;
  for (int i = 0; i < SLOTS; i++)
    if (block[i]) {
      live++;
      release(i);
    }

  size_t big = (size_t)48 << 20;
  unsigned char *huge = calloc(1, big);
  for (size_t k = 0; k < big; k += 4096) {
    bad += huge[k] != 0;
    huge[k] = (unsigned char)(k >> 12);
  }
  unsigned long sum = 0;
  for (size_t k = 0; k < big; k += 4096)
    sum += huge[k];
  free(huge);

  printf("malloc %ld, calloc %ld, posix_memalign %ld, realloc %ld, free %ld, "
         "live at end %ld\n",
         mallocs, callocs, aligned, reallocs, frees, live);
  printf("48 MiB calloc page sum %lu\n", sum);
  printf("bad bytes: %ld\n", bad);
  return bad != 0;
}
