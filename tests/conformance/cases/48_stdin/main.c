#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int lines = 0, words = 0;
  long numbers = 0, bytes = 0;
  while ((len = getline(&line, &cap, stdin)) >= 0) {
    lines++;
    bytes += len;
    int newline = len > 0 && line[len - 1] == '\n';
    if (newline)
      line[--len] = '\0';
    /* Words and the sum of the words that are numbers. */
    char *copy = strdup(line);
    for (char *w = strtok(copy, " \t"); w; w = strtok(NULL, " \t")) {
      words++;
      char *end;
      long v = strtol(w, &end, 10);
      if (*end == '\0')
        numbers += v;
    }
    free(copy);
    /* The line reversed, shortened to 24 characters. */
    char rev[25] = {0};
    for (ssize_t i = 0; i < len && i < 24; i++)
      rev[i] = isprint((unsigned char)line[len - 1 - i]) ? line[len - 1 - i] : '_';
    printf("%d: %3zd bytes%s [%s]\n", lines, len, newline ? "" : " (no newline)", rev);
  }
  free(line);
  printf("lines %d, words %d, bytes %ld, sum of numbers %ld\n", lines, words,
         bytes, numbers);
  return lines;
}
