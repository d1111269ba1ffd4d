int lazy_c(int x) { return x * x; }
int lazy_d(int x) { return -x; }
