/* lib/libouter.so: calls back into JIT'd code and into libinner.so. */
int inner_twice(int);
int outer_ready;
__attribute__((constructor)) static void outer_init(void) { outer_ready = 77; }
int outer_apply(int (*f)(int), int x) { return inner_twice(f(x)); }
