// std::thread, std::mutex and std::condition_variable in JIT'd code; an
// exception thrown on a worker thread is carried to the main thread with
// std::exception_ptr and rethrown there; relaxed atomics from 8 threads.
// (std::call_once, std::async and std::future use libstdc++'s own TLS
// variables, which JIT'd code cannot reach in LLVM 22: not used here.)
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

int work(int n) {
  if (n == 3) throw std::runtime_error("task 3 failed");
  int s = 0;
  for (int i = 0; i <= n * 1000; i++) s += i % 7;
  return s;
}

int main() {
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  std::vector<int> order;
  std::vector<std::thread> ts;
  for (int i = 3; i >= 0; i--)
    ts.emplace_back([&, i] {
      std::unique_lock<std::mutex> lk(m);
      cv.wait(lk, [&] { return ready == i; });
      order.push_back(i);
      ready++;
      cv.notify_all();
    });
  for (auto &t : ts) t.join();
  std::printf("order:");
  for (int v : order) std::printf(" %d", v);
  std::printf("\n");

  std::vector<std::exception_ptr> errors(5);
  std::vector<int> values(5);
  std::vector<std::thread> tasks;
  for (int i = 0; i < 5; i++)
    tasks.emplace_back([&, i] {
      try {
        values[i] = work(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto &t : tasks) t.join();
  int total = 0;
  for (int i = 0; i < 5; i++) {
    try {
      if (errors[i]) std::rethrow_exception(errors[i]);
      std::printf("task %d -> %d\n", i, values[i]);
      total += values[i];
    } catch (const std::exception &e) {
      std::printf("task %d threw: %s\n", i, e.what());
    }
  }

  std::atomic<long> counter{0};
  std::vector<std::thread> adders;
  for (int i = 0; i < 8; i++)
    adders.emplace_back([&] {
      for (int k = 0; k < 100000; k++) counter.fetch_add(1, std::memory_order_relaxed);
    });
  for (auto &t : adders) t.join();
  std::printf("total=%d counter=%ld\n", total, counter.load());
  return 0;
}
