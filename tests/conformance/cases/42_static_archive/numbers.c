long absolute(long); /* from helper.o: pulled in only because of this member */

long gcd(long a, long b) {
  a = absolute(a);
  b = absolute(b);
  while (b) {
    long t = a % b;
    a = b;
    b = t;
  }
  return a;
}
