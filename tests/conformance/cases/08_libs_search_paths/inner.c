/* lib2/libinner.so: a dependency of libouter.so (DT_NEEDED, found through
   libouter's $ORIGIN rpath), never named on the llvm-jitlink command line. */
int inner_calls;
int inner_twice(int x) {
  inner_calls++;
  return 2 * x;
}
