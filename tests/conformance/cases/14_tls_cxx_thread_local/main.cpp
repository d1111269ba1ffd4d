// C++ thread_local variables (constant-initialized, so no TLS guard: LLVM
// 22's JITLink lacks the local-dynamic model a guard would need), one of
// them extern and defined in another object; a std::thread sees fresh
// copies, the main thread keeps its own.
#include <cstdio>
#include <thread>

thread_local int tl_value = 7;
thread_local const char *tl_name = "main";
extern thread_local long tl_extern;

int main() {
  int seen[3];
  std::thread t([&] {
    tl_value += 5;
    tl_name = "worker";
    tl_extern = 99;
    seen[0] = tl_value;
    seen[1] = (int)tl_extern;
    seen[2] = tl_name[0];
  });
  t.join();
  std::printf("worker: %d %d %c; main: %d %ld %s\n", seen[0], seen[1], seen[2], tl_value, tl_extern,
              tl_name);
  return 0;
}
