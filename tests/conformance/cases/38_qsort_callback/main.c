#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct city {
  const char *name;
  int country;
  int population;
};

static int compared; /* how often libc called us back */

/* By country, then by population descending: a total order, so qsort's
   instability cannot show. */
static int by_country_then_size(const void *a, const void *b) {
  const struct city *x = a, *y = b;
  compared++;
  if (x->country != y->country)
    return x->country - y->country;
  return y->population - x->population;
}

static int by_distance(const void *a, const void *b, void *ctx) {
  int center = *(const int *)ctx;
  int da = abs(*(const int *)a - center), db = abs(*(const int *)b - center);
  return da != db ? da - db : *(const int *)a - *(const int *)b;
}

static int int_cmp(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(void) {
  struct city cities[] = {
      {"Lyon", 33, 522}, {"Osaka", 81, 2750}, {"Paris", 33, 2102},
      {"Kyoto", 81, 1464}, {"Turin", 39, 848}, {"Milan", 39, 1371},
      {"Nice", 33, 342}, {"Rome", 39, 2761}, {"Tokyo", 81, 14000},
  };
  size_t n = sizeof cities / sizeof cities[0];
  qsort(cities, n, sizeof cities[0], by_country_then_size);
  for (size_t i = 0; i < n; i++)
    printf("%d %-6s %5d\n", cities[i].country, cities[i].name,
           cities[i].population);
  printf("comparator called: %s\n", compared >= (int)n - 1 ? "yes" : "no");

  int values[] = {15, 3, 22, 9, 18, 7, 11, 30, 1, 12};
  int center = 12;
  qsort_r(values, 10, sizeof(int), by_distance, &center);
  printf("by distance to %d:", center);
  for (int i = 0; i < 10; i++)
    printf(" %d", values[i]);
  printf("\n");

  qsort(values, 10, sizeof(int), int_cmp);
  int present = 18, absent = 19;
  int *hit = bsearch(&present, values, 10, sizeof(int), int_cmp);
  int *miss = bsearch(&absent, values, 10, sizeof(int), int_cmp);
  printf("bsearch 18 -> index %td, 19 -> %s\n", hit ? hit - values : -1,
         miss ? "found" : "absent");

  const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "date"};
  qsort(words, 6, sizeof(char *), str_cmp);
  for (int i = 0; i < 6; i++)
    printf("%s%s", words[i], i < 5 ? " " : "\n");
  return 0;
}
