// sps-bench: LLVM 22's C++ SPS (SimplePackedSerialization.h) on the payloads
// P1-P4 that runtime/benches/common/payloads.rs builds for our SPS, timed by
// the rules runtime/benches/sps_compare.rs follows, so that
// benches/compare-sps.sh can pair the two outputs line by line:
//   sps.Pn.size N bytes, sps.Pn.fnv1a64 H hex    (the serialized bytes)
//   sps.Pn.encode / .decode X MB/s, .encode_item / .decode_item X ns/item
// plus sps.P3.encode_arrayref, sps.P3.decode_arrayref_call (ArrayRef<char>)
// and sps.P4.decode_vec (into a vector instead of a StringMap).
//
// Usage: sps-bench [--reps R] [--min-ms MS] [--only P1,P2,P3,P4]

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ExecutionEngine/Orc/Shared/ExecutorAddress.h"
#include "llvm/ExecutionEngine/Orc/Shared/SimplePackedSerialization.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace llvm;
using namespace llvm::orc;
using namespace llvm::orc::shared;
using Clock = std::chrono::steady_clock;

namespace {

unsigned Reps = 7;
double MinMs = 50;

// Results go here so that the optimizer keeps the work.
volatile uint64_t Sink;

[[noreturn]] void die(const char *What) {
  fprintf(stderr, "sps-bench: %s\n", What);
  exit(1);
}

uint64_t fnv1a64(const std::vector<char> &Bytes) {
  uint64_t H = 0xcbf29ce484222325ULL;
  for (char C : Bytes)
    H = (H ^ (unsigned char)C) * 0x100000001b3ULL;
  return H;
}

// A compiler barrier: each run reads its input from memory again, so that
// no work is hoisted out of the timing loop (our side uses black_box).
inline void opaque() { asm volatile("" ::: "memory"); }

// Median seconds per run of Op: one untimed warm-up, then Reps samples,
// each repeating Op for at least MinMs.
template <typename F> double timeOp(F &&Op) {
  Op();
  auto T0 = Clock::now();
  Op();
  double Once = std::chrono::duration<double>(Clock::now() - T0).count();
  uint64_t Inner =
      std::max<uint64_t>(1, uint64_t(MinMs / 1e3 / std::max(Once, 1e-9)));
  std::vector<double> S;
  for (unsigned R = 0; R < Reps; ++R) {
    auto T = Clock::now();
    for (uint64_t I = 0; I < Inner; ++I) {
      opaque();
      Op();
    }
    S.push_back(std::chrono::duration<double>(Clock::now() - T).count() /
                Inner);
  }
  std::sort(S.begin(), S.end());
  return Reps % 2 ? S[Reps / 2] : (S[Reps / 2 - 1] + S[Reps / 2]) / 2;
}

void line(const std::string &Name, double V, const char *Unit) {
  printf("%s %.*f %s\n", Name.c_str(), V >= 1000 ? 0 : V >= 10 ? 1 : 3, V,
         Unit);
  fflush(stdout);
}

// The identity lines and the main figures of one payload.
void report(const char *P, const std::vector<char> &Bytes, size_t Items,
            double EncodeS, double DecodeS) {
  std::string N = std::string("sps.") + P;
  printf("%s.size %zu bytes\n", N.c_str(), Bytes.size());
  printf("%s.fnv1a64 %016" PRIx64 " hex\n", N.c_str(), fnv1a64(Bytes));
  double MB = Bytes.size() / 1e6;
  line(N + ".encode", MB / EncodeS, "MB/s");
  line(N + ".encode_item", EncodeS * 1e9 / Items, "ns/item");
  line(N + ".decode", MB / DecodeS, "MB/s");
  line(N + ".decode_item", DecodeS * 1e9 / Items, "ns/item");
}

// Encoding of one SPS value of type Tag: size, then serialize into Out,
// which keeps its allocation from one call to the next.
template <typename Tag, typename T>
void encode(const T &V, std::vector<char> &Out) {
  Out.resize(SPSArgList<Tag>::size(V));
  SPSOutputBuffer OB(Out.data(), Out.size());
  if (!SPSArgList<Tag>::serialize(OB, V))
    die("serialize failed");
}

template <typename Tag, typename T>
void decode(const std::vector<char> &In, T &V) {
  SPSInputBuffer IB(In.data(), In.size());
  if (!SPSArgList<Tag>::deserialize(IB, V))
    die("deserialize failed");
}

// P1: 1,000,000 SPSArgList<u8, u16, u32, u64, bool, ExecutorAddr>, back to
// back; one serialize/deserialize call per item, into a reused array.
struct Scalars {
  uint8_t A;
  uint16_t B;
  uint32_t C;
  uint64_t D;
  bool E;
  ExecutorAddr F;
  bool operator==(const Scalars &O) const {
    return std::tie(A, B, C, D, E, F) == std::tie(O.A, O.B, O.C, O.D, O.E, O.F);
  }
};
using P1Args =
    SPSArgList<uint8_t, uint16_t, uint32_t, uint64_t, bool, SPSExecutorAddr>;

void benchP1() {
  const size_t N = 1000000;
  std::vector<Scalars> Items(N);
  for (uint64_t I = 0; I < N; ++I)
    Items[I] = {uint8_t(I), uint16_t(I * 7), uint32_t(I * 2654435761ULL),
                I * 0x9E3779B97F4A7C15ULL, I % 3 == 0,
                ExecutorAddr(0x7f0000000000ULL + I * 16)};
  std::vector<char> Bytes;
  auto Encode = [&] {
    size_t Size = 0;
    for (auto &X : Items)
      Size += P1Args::size(X.A, X.B, X.C, X.D, X.E, X.F);
    Bytes.resize(Size);
    SPSOutputBuffer OB(Bytes.data(), Bytes.size());
    for (auto &X : Items)
      if (!P1Args::serialize(OB, X.A, X.B, X.C, X.D, X.E, X.F))
        die("P1 serialize failed");
    Sink = Size;
  };
  std::vector<Scalars> Back(N);
  auto Decode = [&] {
    SPSInputBuffer IB(Bytes.data(), Bytes.size());
    for (auto &X : Back)
      if (!P1Args::deserialize(IB, X.A, X.B, X.C, X.D, X.E, X.F))
        die("P1 deserialize failed");
    Sink = Back.back().D;
  };
  Encode();
  Decode();
  if (Back != Items)
    die("P1 does not round-trip");
  double E = timeOp(Encode), D = timeOp(Decode);
  report("P1", Bytes, N, E, D);
}

// P2: 10,000 (addr, size, name) tuples, decoded into a fresh vector.
using P2Tag = SPSSequence<SPSTuple<SPSExecutorAddr, uint64_t, SPSString>>;
using P2Item = std::tuple<ExecutorAddr, uint64_t, std::string>;

void benchP2() {
  const size_t N = 10000;
  std::vector<P2Item> Items;
  for (uint64_t I = 0; I < N; ++I) {
    char Name[32];
    snprintf(Name, sizeof Name, "sym_%012" PRIu64, I);
    Items.emplace_back(ExecutorAddr(0x100000000ULL + I * 0x1000),
                       I * 37 % 4096 + 1, Name);
  }
  std::vector<char> Bytes;
  encode<P2Tag>(Items, Bytes);
  std::vector<P2Item> Back;
  decode<P2Tag>(Bytes, Back);
  if (Back != Items)
    die("P2 does not round-trip");
  double E = timeOp([&] {
    encode<P2Tag>(Items, Bytes);
    Sink = Bytes.size();
  });
  double D = timeOp([&] {
    std::vector<P2Item> Fresh;
    decode<P2Tag>(Bytes, Fresh);
    Sink = std::get<1>(Fresh.back());
  });
  report("P2", Bytes, N, E, D);
}

// P3: 1 MiB of bytes as SPSSequence<char>: into a fresh std::vector<char>
// (LLVM's element-by-element path), and through the ArrayRef<char>
// specialization (one memcpy to encode, a view of the input to decode).
void benchP3() {
  const size_t N = 1 << 20;
  std::vector<char> Data(N);
  for (size_t J = 0; J < N; ++J)
    Data[J] = char(J * 31 + 7);
  std::vector<char> Bytes;
  encode<SPSSequence<char>>(Data, Bytes);
  std::vector<char> Back;
  decode<SPSSequence<char>>(Bytes, Back);
  if (Back != Data)
    die("P3 does not round-trip");
  double E = timeOp([&] {
    encode<SPSSequence<char>>(Data, Bytes);
    Sink = Bytes.size();
  });
  double D = timeOp([&] {
    std::vector<char> Fresh;
    decode<SPSSequence<char>>(Bytes, Fresh);
    Sink = (unsigned char)Fresh.back();
  });
  report("P3", Bytes, N, E, D);

  ArrayRef<char> View(Data);
  std::vector<char> ViewBytes;
  encode<SPSSequence<char>>(View, ViewBytes);
  if (ViewBytes != Bytes)
    die("P3 through ArrayRef<char> encodes differently");
  double EV = timeOp([&] {
    encode<SPSSequence<char>>(View, ViewBytes);
    Sink = ViewBytes.size();
  });
  double DV = timeOp([&] {
    ArrayRef<char> Out;
    decode<SPSSequence<char>>(ViewBytes, Out);
    Sink = Out.size();
  });
  line("sps.P3.encode_arrayref", Bytes.size() / 1e6 / EV, "MB/s");
  // A view does not touch the bytes: its cost is per call.
  line("sps.P3.decode_arrayref_call", DV * 1e9, "ns/call");
}

// P4: 1,000 (name, addr) pairs, encoded from an ordered vector, decoded into
// a fresh StringMap (as LLVM decodes a Setup message's bootstrap symbols)
// and into a fresh vector.
using P4Tag = SPSSequence<SPSTuple<SPSString, SPSExecutorAddr>>;
using P4Item = std::pair<std::string, ExecutorAddr>;

void benchP4() {
  const size_t N = 1000;
  std::vector<P4Item> Items;
  for (uint64_t I = 0; I < N; ++I)
    Items.emplace_back("symbol_" + std::to_string(I),
                       ExecutorAddr(0x7f1200000000ULL + I * 0x40));
  std::vector<char> Bytes;
  encode<P4Tag>(Items, Bytes);
  StringMap<ExecutorAddr> Map;
  decode<P4Tag>(Bytes, Map);
  std::vector<P4Item> Back;
  decode<P4Tag>(Bytes, Back);
  if (Back != Items || Map.size() != N)
    die("P4 does not round-trip");
  for (auto &[Name, Addr] : Items)
    if (Map.lookup(Name) != Addr)
      die("P4 does not round-trip through StringMap");
  double E = timeOp([&] {
    encode<P4Tag>(Items, Bytes);
    Sink = Bytes.size();
  });
  double D = timeOp([&] {
    StringMap<ExecutorAddr> Fresh;
    decode<P4Tag>(Bytes, Fresh);
    Sink = Fresh.size();
  });
  report("P4", Bytes, N, E, D);
  double DV = timeOp([&] {
    std::vector<P4Item> Fresh;
    decode<P4Tag>(Bytes, Fresh);
    Sink = Fresh.size();
  });
  line("sps.P4.decode_vec", Bytes.size() / 1e6 / DV, "MB/s");
  line("sps.P4.decode_vec_item", DV * 1e9 / N, "ns/item");
}

[[noreturn]] void usage(int Status) {
  fprintf(Status ? stderr : stdout,
          "usage: sps-bench [--reps R] [--min-ms MS] [--only P1,P2,P3,P4]\n");
  exit(Status);
}

} // namespace

int main(int Argc, char **Argv) {
  std::set<std::string> Only;
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    if (A == "-h" || A == "--help")
      usage(0);
    if (I + 1 == Argc)
      usage(2);
    std::string V = Argv[++I];
    if (A == "--reps")
      Reps = std::max(1, atoi(V.c_str()));
    else if (A == "--min-ms")
      MinMs = std::max(1.0, atof(V.c_str()));
    else if (A == "--only")
      for (size_t P = 0, E; P <= V.size(); P = E + 1) {
        E = std::min(V.find(',', P), V.size());
        Only.insert(V.substr(P, E - P));
      }
    else
      usage(2);
  }
  printf("# sps-bench reps=%u min-ms=%.0f (LLVM 22 SimplePackedSerialization.h)\n",
         Reps, MinMs);
  std::pair<const char *, void (*)()> Payloads[] = {
      {"P1", benchP1}, {"P2", benchP2}, {"P3", benchP3}, {"P4", benchP4}};
  for (auto &[Name, Bench] : Payloads)
    if (Only.empty() || Only.count(Name))
      Bench();
  return 0;
}
