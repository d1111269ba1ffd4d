#include <stdint.h>
#include <stdio.h>

#include "tables.inc"

#define DATA_WORDS (2u << 20)  /* 8 MiB of uint32_t */
#define RODATA_WORDS (512u << 10) /* 2 MiB */
#define BSS_BYTES (32u << 20)

uint32_t data[DATA_WORDS] = {DATA_INIT};
const uint32_t rodata[RODATA_WORDS] = {RODATA_INIT};
static uint8_t bss[BSS_BYTES];

static uint64_t fold(const uint32_t *p, size_t n) {
  uint64_t h = 0;
  for (size_t i = 0; i < n; i++)
    h = h * 31 + p[i];
  return h;
}

int main(void) {
  printf("data:   %zu bytes, fold %016llx\n", sizeof data,
         (unsigned long long)fold(data, DATA_WORDS));
  printf("rodata: %zu bytes, fold %016llx\n", sizeof rodata,
         (unsigned long long)fold(rodata, RODATA_WORDS));
  size_t nonzero = 0;
  for (size_t i = 0; i < BSS_BYTES; i += 64)
    nonzero += bss[i] != 0;
  printf("bss:    %zu bytes, non-zero samples %zu\n", sizeof bss, nonzero);
  for (size_t i = 0; i < BSS_BYTES; i += 4096)
    bss[i] = (uint8_t)(i >> 12);
  for (size_t i = 0; i < DATA_WORDS; i += 4096)
    data[i] ^= 0x5a5a5a5au;
  uint64_t sum = 0;
  for (size_t i = 0; i < BSS_BYTES; i += 4096)
    sum += bss[i];
  printf("after writes: bss sum %llu, data fold %016llx\n",
         (unsigned long long)sum, (unsigned long long)fold(data, DATA_WORDS));
  return 0;
}
