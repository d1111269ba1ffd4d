int count_vowels(const char *s) {
  int n = 0;
  for (; *s; s++)
    for (const char *v = "aeiou"; *v; v++)
      n += *s == *v;
  return n;
}
