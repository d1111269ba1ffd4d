#include <stdio.h>

int count_vowels(const char *);
long gcd(long, long);

int main(void) {
  const char *text = "archive members are linked on demand";
  printf("vowels in \"%s\": %d\n", text, count_vowels(text));
  printf("gcd(1071, 462) = %ld\n", gcd(1071, 462));
  return (int)gcd(12, 8); /* 4 */
}
