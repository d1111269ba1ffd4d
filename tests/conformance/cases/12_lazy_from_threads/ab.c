int lazy_a(int x) { return x + 1000; }
int lazy_b(int x) { return x * 2; }
