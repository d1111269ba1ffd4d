// epc-bench: an ORC executor process measured from LLVM 22's own controller.
//
// The executor is started the way `llvm-jitlink -oop-executor=PATH` starts
// it (two pipes, fork, exec `PATH filedescs=R,W`) and driven by
// SimpleRemoteEPC over FDSimpleRemoteEPCTransport with the default memory
// access (EPCGenericMemoryAccess) and memory manager
// (EPCGenericJITLinkMemoryManager), as llvm-jitlink does. Each metric gets a
// fresh executor, so one that crashes or hangs costs only its own metrics.
// benches/README.md defines the metrics.
//
// Usage: epc-bench --executor PATH [--iters N] [--reps R] [--inflight K]
//                  [--bulk-mib M] [--setup-reps S] [--only a,b] [--timeout SECS]
//                  [-- EXECUTOR-ARGS...]

#include "llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h"
#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/Shared/SimpleRemoteEPCUtils.h"
#include "llvm/ExecutionEngine/Orc/SimpleRemoteEPC.h"
#include "llvm/ExecutionEngine/Orc/TaskDispatch.h"
#include "llvm/Support/Error.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace llvm;
using namespace llvm::orc;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string Executor;
  std::vector<std::string> ExecutorArgs;
  uint64_t Iters = 10000;
  unsigned Reps = 5;
  unsigned InFlight = 16;
  unsigned BulkMiB = 64;
  unsigned SetupReps = 20;
  unsigned TimeoutSecs = 120;
  std::set<std::string> Only;
};

using Samples = std::vector<double>;

double secondsSince(Clock::time_point T0) {
  return std::chrono::duration<double>(Clock::now() - T0).count();
}

double median(Samples V) {
  std::sort(V.begin(), V.end());
  size_t N = V.size();
  return N % 2 ? V[N / 2] : (V[N / 2 - 1] + V[N / 2]) / 2;
}

Error failure(const Twine &Msg) {
  return make_error<StringError>(Msg, inconvertibleErrorCode());
}

// waitpid, retried on EINTR; returns the status, or -1.
int reap(pid_t Pid) {
  int Status;
  while (waitpid(Pid, &Status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return Status;
}

// Kills the executor being watched once it has been watched for longer than
// the limit: every pending call then fails with a disconnect, so a silent or
// hung executor costs one metric instead of the whole run.
class Watchdog {
public:
  explicit Watchdog(unsigned Secs) : Limit(Secs), Thread([this] { loop(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> L(M);
      Stopping = true;
    }
    CV.notify_all();
    Thread.join();
  }
  void watch(pid_t P) {
    std::lock_guard<std::mutex> L(M);
    Pid = P;
    Fired = false;
    Deadline = Clock::now() + Limit;
    CV.notify_all();
  }
  void unwatch() {
    std::lock_guard<std::mutex> L(M);
    Pid = -1;
  }
  bool fired() {
    std::lock_guard<std::mutex> L(M);
    return Fired;
  }

private:
  void loop() {
    std::unique_lock<std::mutex> L(M);
    while (!Stopping) {
      if (Pid < 0)
        CV.wait(L);
      else if (CV.wait_until(L, Deadline) == std::cv_status::timeout &&
               Pid >= 0 && Clock::now() >= Deadline) {
        kill(Pid, SIGKILL);
        Fired = true;
        Pid = -1;
      }
    }
  }
  std::chrono::seconds Limit;
  std::mutex M;
  std::condition_variable CV;
  pid_t Pid = -1;
  bool Fired = false, Stopping = false;
  Clock::time_point Deadline;
  std::thread Thread;
};

// One executor process and LLVM's controller session with it.
class Session {
public:
  // Starts the executor and waits for its Setup message, under the watchdog.
  static Expected<std::unique_ptr<Session>> open(const Config &C,
                                                 Watchdog &WD) {
    // Close-on-exec, so that executors started later never inherit these;
    // the child clears it on the two ends it keeps.
    int ToExec[2], FromExec[2];
    if (pipe2(ToExec, O_CLOEXEC) != 0)
      return errorCodeToError(std::error_code(errno, std::generic_category()));
    if (pipe2(FromExec, O_CLOEXEC) != 0) {
      int E = errno;
      ::close(ToExec[0]);
      ::close(ToExec[1]);
      return errorCodeToError(std::error_code(E, std::generic_category()));
    }
    // argv is built before fork: the child may only make async-signal-safe
    // calls.
    std::vector<std::string> Args = {
        C.Executor, "filedescs=" + std::to_string(ToExec[0]) + "," +
                        std::to_string(FromExec[1])};
    Args.insert(Args.end(), C.ExecutorArgs.begin(), C.ExecutorArgs.end());
    std::vector<char *> Argv;
    for (auto &A : Args)
      Argv.push_back(A.data());
    Argv.push_back(nullptr);

    pid_t Pid = fork();
    if (Pid == 0) {
      fcntl(ToExec[0], F_SETFD, 0);
      fcntl(FromExec[1], F_SETFD, 0);
      execvp(Argv[0], Argv.data());
      _exit(127);
    }
    int ForkErrno = errno;
    ::close(ToExec[0]);
    ::close(FromExec[1]);
    if (Pid < 0) {
      ::close(ToExec[1]);
      ::close(FromExec[0]);
      return errorCodeToError(
          std::error_code(ForkErrno, std::generic_category()));
    }

    WD.watch(Pid);
    auto EPC = SimpleRemoteEPC::Create<FDSimpleRemoteEPCTransport>(
        std::make_unique<InPlaceTaskDispatcher>(), SimpleRemoteEPC::Setup(),
        FromExec[0], ToExec[1]);
    if (!EPC) {
      kill(Pid, SIGKILL);
      int Status = reap(Pid);
      WD.unwatch();
      std::string How = Status >= 0 && WIFEXITED(Status)
                            ? "exit " + std::to_string(WEXITSTATUS(Status))
                            : "killed";
      return joinErrors(EPC.takeError(),
                        failure("executor ended (" + How + ")"));
    }
    auto S = std::unique_ptr<Session>(new Session(Pid, WD));
    S->EPC = EPC->get();
    S->ES = std::make_unique<ExecutionSession>(std::move(*EPC));
    return std::move(S);
  }

  ~Session() { consumeError(close()); }

  // Ends the session and waits for the executor to exit.
  Error close() {
    Error Err = Error::success();
    if (ES) {
      Err = ES->endSession();
      ES.reset();
    }
    if (Pid > 0) {
      reap(Pid);
      Pid = -1;
      WD.unwatch();
    }
    return Err;
  }

  SimpleRemoteEPC &epc() { return *EPC; }
  ExecutionSession &es() { return *ES; }
  MemoryAccess &memory() { return EPC->getMemoryAccess(); }
  jitlink::JITLinkMemoryManager &memMgr() { return EPC->getMemMgr(); }

private:
  Session(pid_t Pid, Watchdog &WD) : Pid(Pid), WD(WD) {}
  pid_t Pid;
  Watchdog &WD;
  SimpleRemoteEPC *EPC = nullptr;
  std::unique_ptr<ExecutionSession> ES;
};

// An allocation of executor memory through the JITLink memory manager.
struct Region {
  ExecutorAddr Addr;
  jitlink::JITLinkMemoryManager::FinalizedAlloc Alloc;
};

Expected<Region> allocate(Session &S, size_t Size) {
  using namespace jitlink;
  auto SA = SimpleSegmentAlloc::Create(
      S.memMgr(), S.epc().getSymbolStringPool(), S.epc().getTargetTriple(),
      nullptr, {{MemProt::Read | MemProt::Write, {Size, Align(4096)}}});
  if (!SA)
    return SA.takeError();
  auto Seg = SA->getSegInfo(MemProt::Read | MemProt::Write);
  memset(Seg.WorkingMem.data(), 0, Seg.WorkingMem.size());
  auto FA = SA->finalize();
  if (!FA)
    return FA.takeError();
  return Region{Seg.Addr, std::move(*FA)};
}

// Count asynchronous operations with at most Window of them in flight:
// Start(I, Done) begins operation I, which calls Done once. A completion
// starts the next operation itself (on the transport's listener thread),
// so the window stays full without a round trip through this thread.
using StartFn = std::function<void(uint64_t, unique_function<void(Error)>)>;

struct PipelineState {
  uint64_t Count = 0;
  StartFn Start;
  std::mutex M;
  std::condition_variable CV;
  uint64_t Next = 0, InFlight = 0, Completed = 0;
  std::string Failure;
};

void startNext(const std::shared_ptr<PipelineState> &S) {
  uint64_t I;
  {
    std::lock_guard<std::mutex> L(S->M);
    if (!S->Failure.empty() || S->Next == S->Count)
      return;
    I = S->Next++;
    ++S->InFlight;
  }
  S->Start(I, [S](Error Err) {
    {
      std::lock_guard<std::mutex> L(S->M);
      --S->InFlight;
      if (!Err)
        ++S->Completed;
      else if (S->Failure.empty())
        S->Failure = toString(std::move(Err));
      else
        consumeError(std::move(Err));
    }
    startNext(S);
    S->CV.notify_all();
  });
}

Error runPipelined(uint64_t Count, unsigned Window, StartFn Start) {
  auto S = std::make_shared<PipelineState>();
  S->Count = Count;
  S->Start = std::move(Start);
  for (unsigned J = 0; J < Window; ++J)
    startNext(S);
  std::unique_lock<std::mutex> L(S->M);
  S->CV.wait(L, [&] {
    return S->InFlight == 0 && (!S->Failure.empty() || S->Completed == Count);
  });
  return S->Failure.empty() ? Error::success() : failure(S->Failure);
}

// rtt_write_u64: sequential MemoryAccess::writeUInt64s, one write per call.
Expected<Samples> rttWrite(const Config &C, Session &S) {
  auto R = allocate(S, 4096);
  if (!R)
    return R.takeError();
  auto Slot = [&](uint64_t I) { return R->Addr + (I % 512) * 8; };
  for (uint64_t I = 0; I < std::min<uint64_t>(C.Iters / 10 + 1, 500); ++I)
    if (auto Err = S.memory().writeUInt64s({{Slot(I), I}}))
      return std::move(Err);
  Samples Out;
  for (unsigned Rep = 0; Rep < C.Reps; ++Rep) {
    auto T0 = Clock::now();
    for (uint64_t I = 0; I < C.Iters; ++I)
      if (auto Err = S.memory().writeUInt64s({{Slot(I), I}}))
        return std::move(Err);
    Out.push_back(secondsSince(T0) * 1e9 / C.Iters);
  }
  // The writes landed where they were sent.
  auto Back = S.memory().readUInt64s({Slot(C.Iters - 1)});
  if (!Back)
    return Back.takeError();
  if ((*Back)[0] != C.Iters - 1)
    return failure("read-back after the writes differs");
  if (auto Err = S.memMgr().deallocate(std::move(R->Alloc)))
    return std::move(Err);
  return Out;
}

// pipelined_write_u64: the same call, --inflight of them in flight.
Expected<Samples> pipelinedWrite(const Config &C, Session &S) {
  auto R = allocate(S, 4096);
  if (!R)
    return R.takeError();
  auto Start = [&](uint64_t I, unique_function<void(Error)> Done) {
    S.memory().writeUInt64sAsync({{R->Addr + (I % 512) * 8, I}},
                                 std::move(Done));
  };
  if (auto Err = runPipelined(std::min<uint64_t>(C.Iters / 10 + 1, 500),
                              C.InFlight, Start))
    return std::move(Err);
  Samples Out;
  for (unsigned Rep = 0; Rep < C.Reps; ++Rep) {
    auto T0 = Clock::now();
    if (auto Err = runPipelined(C.Iters, C.InFlight, Start))
      return std::move(Err);
    Out.push_back(C.Iters / secondsSince(T0));
  }
  if (auto Err = S.memMgr().deallocate(std::move(R->Alloc)))
    return std::move(Err);
  return Out;
}

// bulk_write(_pipelined): MemoryAccess::writeBuffers of 1 MiB per call into
// an 8 MiB region, --bulk-mib calls per repetition, Window in flight.
Expected<Samples> bulkWrite(const Config &C, Session &S, unsigned Window) {
  constexpr size_t Chunk = 1 << 20, Chunks = 8;
  auto R = allocate(S, Chunk * Chunks);
  if (!R)
    return R.takeError();
  std::vector<char> Data(Chunk);
  for (size_t I = 0; I < Chunk; ++I)
    Data[I] = char(I * 7 + I / 4096);
  auto Start = [&](uint64_t I, unique_function<void(Error)> Done) {
    S.memory().writeBuffersAsync(
        {{R->Addr + (I % Chunks) * Chunk, ArrayRef<char>(Data)}},
        std::move(Done));
  };
  // Warm-up: every page of the region touched once.
  if (auto Err = runPipelined(Chunks, Window, Start))
    return std::move(Err);
  Samples Out;
  for (unsigned Rep = 0; Rep < C.Reps; ++Rep) {
    auto T0 = Clock::now();
    if (auto Err = runPipelined(C.BulkMiB, Window, Start))
      return std::move(Err);
    Out.push_back(double(C.BulkMiB) * Chunk / secondsSince(T0) / 1e6);
  }
  auto Back = S.memory().readBuffers({{R->Addr, ExecutorAddrDiff(Chunk)}});
  if (!Back)
    return Back.takeError();
  if ((*Back)[0].size() != Chunk || memcmp((*Back)[0].data(), Data.data(), Chunk))
    return failure("read-back after the bulk writes differs");
  if (auto Err = S.memMgr().deallocate(std::move(R->Alloc)))
    return std::move(Err);
  return Out;
}

// memmgr_cycle: reserve (RX 64 B + RW 64 B), finalize, deallocate.
Expected<Samples> memmgrCycle(const Config &C, Session &S) {
  using namespace jitlink;
  auto Cycle = [&]() -> Error {
    auto SA = SimpleSegmentAlloc::Create(
        S.memMgr(), S.epc().getSymbolStringPool(), S.epc().getTargetTriple(),
        nullptr,
        {{MemProt::Read | MemProt::Exec, {64, Align(16)}},
         {MemProt::Read | MemProt::Write, {64, Align(16)}}});
    if (!SA)
      return SA.takeError();
    auto Code = SA->getSegInfo(MemProt::Read | MemProt::Exec).WorkingMem;
    memset(Code.data(), 0xc3, Code.size()); // ret
    auto Data = SA->getSegInfo(MemProt::Read | MemProt::Write).WorkingMem;
    memset(Data.data(), 0x11, Data.size());
    auto FA = SA->finalize();
    if (!FA)
      return FA.takeError();
    return S.memMgr().deallocate(std::move(*FA));
  };
  uint64_t N = std::max<uint64_t>(1, C.Iters / 5);
  for (uint64_t I = 0; I < std::min<uint64_t>(N / 10 + 1, 100); ++I)
    if (auto Err = Cycle())
      return std::move(Err);
  Samples Out;
  for (unsigned Rep = 0; Rep < C.Reps; ++Rep) {
    auto T0 = Clock::now();
    for (uint64_t I = 0; I < N; ++I)
      if (auto Err = Cycle())
        return std::move(Err);
    Out.push_back(N / secondsSince(T0));
  }
  return Out;
}

// dylib_lookup: DylibManager::lookupSymbols of {printf, malloc} in the
// executor's own process (loadDylib(nullptr)).
Expected<Samples> dylibLookup(const Config &C, Session &S) {
  auto &DM = S.epc().getDylibMgr();
  auto Process = DM.loadDylib(nullptr);
  if (!Process)
    return Process.takeError();
  SymbolLookupSet Names({S.es().intern("printf"), S.es().intern("malloc")});
  auto Lookup = [&]() -> Error {
    auto R = DM.lookupSymbols({DylibManager::LookupRequest(*Process, Names)});
    if (!R)
      return R.takeError();
    if (R->size() != 1 || (*R)[0].size() != 2)
      return failure("lookup answered the wrong number of symbols");
    for (auto &Def : (*R)[0])
      if (!Def || !Def->getAddress())
        return failure("printf or malloc not found");
    return Error::success();
  };
  uint64_t N = std::max<uint64_t>(1, C.Iters / 2);
  for (uint64_t I = 0; I < std::min<uint64_t>(N / 10 + 1, 200); ++I)
    if (auto Err = Lookup())
      return std::move(Err);
  Samples Out;
  for (unsigned Rep = 0; Rep < C.Reps; ++Rep) {
    auto T0 = Clock::now();
    for (uint64_t I = 0; I < N; ++I)
      if (auto Err = Lookup())
        return std::move(Err);
    Out.push_back(N / secondsSince(T0));
  }
  return Out;
}

std::string oneLine(std::string S) {
  std::replace(S.begin(), S.end(), '\n', ';');
  return S;
}

void print(const std::string &Name, const Samples &V, const char *Unit) {
  double M = median(V);
  printf("%s %.*f %s\n", Name.c_str(), M >= 1000 ? 0 : M >= 10 ? 1 : 3, M,
         Unit);
  fflush(stdout);
}

void printUnsupported(const std::string &Name, const std::string &Why) {
  printf("%s unsupported: %s\n", Name.c_str(), oneLine(Why).c_str());
  fflush(stdout);
}

// Runs one metric in a fresh session and prints its line.
void runMetric(const Config &C, Watchdog &WD, const std::string &Name,
               const char *Unit,
               std::function<Expected<Samples>(Session &)> Measure) {
  auto S = Session::open(C, WD);
  if (!S) {
    std::string Why = toString(S.takeError());
    printUnsupported(Name, (WD.fired() ? "no Setup message within " +
                                             std::to_string(C.TimeoutSecs) +
                                             " s: "
                                       : "session setup failed: ") +
                               Why);
    return;
  }
  auto V = Measure(**S);
  bool Fired = WD.fired();
  consumeError((*S)->close());
  if (!V)
    printUnsupported(Name, (Fired ? "timed out after " +
                                        std::to_string(C.TimeoutSecs) + " s: "
                                  : std::string()) +
                               toString(V.takeError()));
  else
    print(Name, *V, Unit);
}

// session_setup / session_teardown / session_total: --setup-reps sessions
// after an untimed first one; setup is fork+exec until SimpleRemoteEPC::Create
// returns, teardown ExecutionSession::endSession until the executor is reaped.
void runSessions(const Config &C, Watchdog &WD,
                 const std::function<bool(const std::string &)> &Want) {
  Samples Setup, Teardown, Total;
  std::string Why;
  for (unsigned I = 0; I <= C.SetupReps && Why.empty(); ++I) {
    auto T0 = Clock::now();
    auto S = Session::open(C, WD);
    double SetupMs = secondsSince(T0) * 1e3;
    if (!S) {
      Why = "session setup failed: " + toString(S.takeError());
      break;
    }
    auto T1 = Clock::now();
    if (auto Err = (*S)->close())
      Why = "teardown failed: " + toString(std::move(Err));
    double TeardownMs = secondsSince(T1) * 1e3;
    if (WD.fired())
      Why = "the executor did not exit within " +
            std::to_string(C.TimeoutSecs) + " s";
    if (I > 0) {
      Setup.push_back(SetupMs);
      Teardown.push_back(TeardownMs);
      Total.push_back(SetupMs + TeardownMs);
    }
  }
  for (auto &[Name, V] : {std::pair<std::string, Samples &>{"session_setup", Setup},
                          {"session_teardown", Teardown},
                          {"session_total", Total}}) {
    if (!Want(Name))
      continue;
    if (Why.empty())
      print(Name, V, "ms");
    else
      printUnsupported(Name, Why);
  }
}

// spawn_true: fork + exec /bin/true + waitpid from this process, the way
// Session::open starts an executor: the part of session_setup no executor
// can save. (fork's cost grows with the parent's address space, and this
// one maps libLLVM, so it is the floor of a controller like llvm-jitlink.)
void runSpawnFloor(const Config &C) {
  Samples Ms;
  for (unsigned I = 0; I <= C.SetupReps; ++I) {
    auto T0 = Clock::now();
    pid_t Pid = fork();
    if (Pid == 0) {
      execl("/bin/true", "true", (char *)nullptr);
      _exit(127);
    }
    if (Pid < 0 || reap(Pid) != 0) {
      printUnsupported("spawn_true", "fork/exec of /bin/true failed");
      return;
    }
    if (I > 0)
      Ms.push_back(secondsSince(T0) * 1e3);
  }
  print("spawn_true", Ms, "ms");
}

const char *const MetricNames[] = {
    "rtt_write_u64", "pipelined_write_u64", "bulk_write",
    "bulk_write_pipelined", "memmgr_cycle", "dylib_lookup",
    "session_setup", "session_teardown", "session_total", "spawn_true"};

[[noreturn]] void usage(int Status) {
  fprintf(Status ? stderr : stdout,
          "usage: epc-bench --executor PATH [--iters N] [--reps R] "
          "[--inflight K] [--bulk-mib M]\n"
          "                 [--setup-reps S] [--only a,b] [--timeout SECS] "
          "[-- EXECUTOR-ARGS...]\n"
          "metrics:");
  for (const char *N : MetricNames)
    fprintf(Status ? stderr : stdout, " %s", N);
  fprintf(Status ? stderr : stdout, "\n");
  exit(Status);
}

Config parseArgs(int Argc, char **Argv) {
  Config C;
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    auto Value = [&]() -> std::string {
      if (I + 1 == Argc)
        usage(2);
      return Argv[++I];
    };
    auto Count = [&]() -> uint64_t {
      std::string V = Value();
      char *End;
      unsigned long long N = strtoull(V.c_str(), &End, 10);
      if (V.empty() || *End || N == 0) {
        fprintf(stderr, "epc-bench: %s needs a positive number, not '%s'\n",
                A.c_str(), V.c_str());
        exit(2);
      }
      return N;
    };
    if (A == "--executor")
      C.Executor = Value();
    else if (A == "--iters")
      C.Iters = Count();
    else if (A == "--reps")
      C.Reps = Count();
    else if (A == "--inflight")
      C.InFlight = Count();
    else if (A == "--bulk-mib")
      C.BulkMiB = Count();
    else if (A == "--setup-reps")
      C.SetupReps = Count();
    else if (A == "--timeout")
      C.TimeoutSecs = Count();
    else if (A == "--only") {
      std::string List = Value();
      for (size_t P = 0, E; P <= List.size(); P = E + 1) {
        E = std::min(List.find(',', P), List.size());
        std::string Name = List.substr(P, E - P);
        if (std::find(std::begin(MetricNames), std::end(MetricNames), Name) ==
            std::end(MetricNames)) {
          fprintf(stderr, "epc-bench: unknown metric '%s'\n", Name.c_str());
          usage(2);
        }
        C.Only.insert(Name);
      }
    } else if (A == "--") {
      C.ExecutorArgs.assign(Argv + I + 1, Argv + Argc);
      break;
    } else if (A == "-h" || A == "--help")
      usage(0);
    else {
      fprintf(stderr, "epc-bench: unknown argument '%s'\n", A.c_str());
      usage(2);
    }
  }
  if (C.Executor.empty())
    usage(2);
  return C;
}

} // namespace

int main(int Argc, char **Argv) {
  Config C = parseArgs(Argc, Argv);
  // A dead executor must not kill the controller on its next write.
  signal(SIGPIPE, SIG_IGN);
  Watchdog WD(C.TimeoutSecs);
  auto Want = [&](const std::string &Name) {
    return C.Only.empty() || C.Only.count(Name);
  };
  printf("# epc-bench executor=%s iters=%llu reps=%u inflight=%u bulk-mib=%u "
         "setup-reps=%u\n",
         C.Executor.c_str(), (unsigned long long)C.Iters, C.Reps, C.InFlight,
         C.BulkMiB, C.SetupReps);
  fflush(stdout);

  struct {
    const char *Name, *Unit;
    std::function<Expected<Samples>(Session &)> Measure;
  } Metrics[] = {
      {"rtt_write_u64", "ns/call", [&](Session &S) { return rttWrite(C, S); }},
      {"pipelined_write_u64", "calls/s",
       [&](Session &S) { return pipelinedWrite(C, S); }},
      {"bulk_write", "MB/s", [&](Session &S) { return bulkWrite(C, S, 1); }},
      {"bulk_write_pipelined", "MB/s",
       [&](Session &S) { return bulkWrite(C, S, 4); }},
      {"memmgr_cycle", "ops/s", [&](Session &S) { return memmgrCycle(C, S); }},
      {"dylib_lookup", "lookups/s",
       [&](Session &S) { return dylibLookup(C, S); }},
  };
  for (auto &M : Metrics)
    if (Want(M.Name))
      runMetric(C, WD, M.Name, M.Unit, M.Measure);
  if (Want("session_setup") || Want("session_teardown") ||
      Want("session_total"))
    runSessions(C, WD, Want);
  if (Want("spawn_true"))
    runSpawnFloor(C);
  return 0;
}
