/* The C API test program: compiled against include/orc-rt-c/orc-rt.h with
 * -Wall -Wextra -Werror and linked with the orc-rt library by
 * runtime/tests/c_api.rs, which runs it and checks its output.
 *
 *   c_api            run every check; print "layout ..." and "passed N";
 *                    exit 1 if any check failed
 *   c_api cantFail   call orc_rt_Error_cantFail on a failure (must abort)
 */

#include "orc-rt-c/orc-rt.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int Checks = 0;
static int Failures = 0;

#define CHECK(Cond)                                                            \
  do {                                                                         \
    ++Checks;                                                                  \
    if (!(Cond)) {                                                             \
      ++Failures;                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,        \
              #Cond);                                                          \
    }                                                                          \
  } while (0)

/* The layout, pinned at compile time (64-bit targets) and printed so the Rust
   side can compare it with its own struct. */
_Static_assert(sizeof(orc_rt_WrapperFunctionBuffer) == 2 * sizeof(char *),
               "buffer is two words");
_Static_assert(offsetof(orc_rt_WrapperFunctionBuffer, Data) == 0,
               "Data comes first");
_Static_assert(offsetof(orc_rt_WrapperFunctionBuffer, Size) == sizeof(char *),
               "Size follows the storage word");
_Static_assert(sizeof(orc_rt_WrapperFunctionBufferDataUnion) == sizeof(char *),
               "inline capacity is one pointer");
_Static_assert(sizeof(uint64_t) == 8, "CallId is 64 bits");

static void printLayout(void) {
  printf("layout size=%zu align=%zu data=%zu size_field=%zu inline=%zu\n",
         sizeof(orc_rt_WrapperFunctionBuffer),
         alignof(orc_rt_WrapperFunctionBuffer),
         offsetof(orc_rt_WrapperFunctionBuffer, Data),
         offsetof(orc_rt_WrapperFunctionBuffer, Size),
         sizeof(((orc_rt_WrapperFunctionBuffer *)0)->Data.Value));
}

/* True if P points inside the struct at B (the inline storage). */
static int pointsInside(const void *P, const orc_rt_WrapperFunctionBuffer *B) {
  const char *C = (const char *)P, *Start = (const char *)B;
  return C >= Start && C < Start + sizeof(*B);
}

/* Checks every accessor on *B against the expected state. Bytes == NULL
   means an out-of-band error with message Err. */
static void checkState(orc_rt_WrapperFunctionBuffer *B, const char *Bytes,
                       size_t Size, const char *Err) {
  if (Err) {
    CHECK(B->Size == 0 && B->Data.ValuePtr != NULL);
    CHECK(orc_rt_WrapperFunctionBufferEmpty(B) == 0);
    CHECK(orc_rt_WrapperFunctionBufferSize(B) == 0);
    CHECK(orc_rt_WrapperFunctionBufferData(B) == NULL);
    CHECK(orc_rt_WrapperFunctionBufferConstData(B) == NULL);
    const char *Msg = orc_rt_WrapperFunctionBufferGetOutOfBandError(B);
    CHECK(Msg != NULL && strcmp(Msg, Err) == 0);
    CHECK(Msg == B->Data.ValuePtr);
    return;
  }
  CHECK(B->Size == Size);
  CHECK(orc_rt_WrapperFunctionBufferSize(B) == Size);
  CHECK(orc_rt_WrapperFunctionBufferEmpty(B) == (Size == 0));
  CHECK(orc_rt_WrapperFunctionBufferGetOutOfBandError(B) == NULL);
  char *Data = orc_rt_WrapperFunctionBufferData(B);
  CHECK(Data != NULL);
  CHECK(orc_rt_WrapperFunctionBufferConstData(B) == Data);
  if (Size == 0) {
    CHECK(B->Data.ValuePtr == NULL); /* empty: the pointer word is zero */
  } else if (Size <= sizeof(B->Data.Value)) {
    CHECK(Data == B->Data.Value); /* small: inline */
    CHECK(pointsInside(Data, B));
  } else {
    CHECK(Data == B->Data.ValuePtr); /* large: on the heap */
    CHECK(!pointsInside(Data, B));
  }
  if (Data && Size)
    CHECK(memcmp(Data, Bytes, Size) == 0);
}

static void testConstructors(void) {
  static const char Zeros[100] = {0};
  orc_rt_WrapperFunctionBuffer B;

  memset(&B, 0xAB, sizeof(B)); /* garbage: Init must not free it */
  orc_rt_WrapperFunctionBufferInit(&B);
  checkState(&B, "", 0, NULL);

  B = orc_rt_WrapperFunctionBufferAllocate(0);
  checkState(&B, "", 0, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_WrapperFunctionBufferAllocate(5);
  checkState(&B, Zeros, 5, NULL);
  memcpy(orc_rt_WrapperFunctionBufferData(&B), "abcde", 5);
  checkState(&B, "abcde", 5, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);
  checkState(&B, "", 0, NULL);

  B = orc_rt_WrapperFunctionBufferAllocate(8); /* the largest small size */
  checkState(&B, Zeros, 8, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_WrapperFunctionBufferAllocate(9); /* the smallest large size */
  checkState(&B, Zeros, 9, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_WrapperFunctionBufferAllocate(100);
  checkState(&B, Zeros, 100, NULL);
  orc_rt_WrapperFunctionBufferData(&B)[99] = 'z';
  CHECK(B.Data.ValuePtr[99] == 'z');
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_WrapperFunctionBufferAllocate(SIZE_MAX); /* cannot be allocated */
  CHECK(orc_rt_WrapperFunctionBufferGetOutOfBandError(&B) != NULL);
  CHECK(orc_rt_WrapperFunctionBufferEmpty(&B) == 0);
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_CreateWrapperFunctionBufferFromRange(NULL, 0);
  checkState(&B, "", 0, NULL);
  B = orc_rt_CreateWrapperFunctionBufferFromRange("xyz", 0);
  checkState(&B, "", 0, NULL);
  B = orc_rt_CreateWrapperFunctionBufferFromRange("xyz", 3);
  checkState(&B, "xyz", 3, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);
  B = orc_rt_CreateWrapperFunctionBufferFromRange("0123456789abcdef", 16);
  checkState(&B, "0123456789abcdef", 16, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);
  B = orc_rt_CreateWrapperFunctionBufferFromRange(NULL, 4);
  CHECK(orc_rt_WrapperFunctionBufferGetOutOfBandError(&B) != NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_CreateWrapperFunctionBufferFromString("hello"); /* with the NUL */
  checkState(&B, "hello", 6, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);
  B = orc_rt_CreateWrapperFunctionBufferFromString("");
  checkState(&B, "", 1, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);
  B = orc_rt_CreateWrapperFunctionBufferFromString("a longer string");
  checkState(&B, "a longer string", 16, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);

  B = orc_rt_CreateWrapperFunctionBufferFromOutOfBandError("it failed");
  checkState(&B, NULL, 0, "it failed");
  orc_rt_WrapperFunctionBufferDispose(&B);
  checkState(&B, "", 0, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B); /* disposing twice is harmless */
  checkState(&B, "", 0, NULL);
  B = orc_rt_CreateWrapperFunctionBufferFromOutOfBandError("");
  checkState(&B, NULL, 0, ""); /* an empty message is still an error */
  orc_rt_WrapperFunctionBufferDispose(&B);
  B = orc_rt_CreateWrapperFunctionBufferFromOutOfBandError("\xff\xfe bytes");
  checkState(&B, NULL, 0, "\xff\xfe bytes"); /* copied byte for byte */
  orc_rt_WrapperFunctionBufferDispose(&B);

  /* NULL buffer pointers read as empty. */
  CHECK(orc_rt_WrapperFunctionBufferEmpty(NULL) == 1);
  CHECK(orc_rt_WrapperFunctionBufferSize(NULL) == 0);
  CHECK(orc_rt_WrapperFunctionBufferData(NULL) == NULL);
  CHECK(orc_rt_WrapperFunctionBufferGetOutOfBandError(NULL) == NULL);
  orc_rt_WrapperFunctionBufferDispose(NULL);
  orc_rt_WrapperFunctionBufferInit(NULL);
}

/* Memory crosses the boundary in both directions: C's malloc is freed by the
   runtime, and the runtime's storage is freed by C's free. */
static void testMallocFreeInterop(void) {
  orc_rt_WrapperFunctionBuffer B;

  /* Built by hand in C, disposed of by the runtime. */
  B.Size = 32;
  B.Data.ValuePtr = malloc(32);
  CHECK(B.Data.ValuePtr != NULL);
  memset(B.Data.ValuePtr, 'q', 32);
  char Expected[32];
  memset(Expected, 'q', 32);
  checkState(&B, Expected, 32, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);
  checkState(&B, "", 0, NULL);

  B.Size = 0;
  B.Data.ValuePtr = malloc(6);
  CHECK(B.Data.ValuePtr != NULL);
  memcpy(B.Data.ValuePtr, "by C!", 6);
  checkState(&B, NULL, 0, "by C!");
  orc_rt_WrapperFunctionBufferDispose(&B);

  B.Size = 2; /* small, by hand */
  B.Data.Value[0] = 'o';
  B.Data.Value[1] = 'k';
  checkState(&B, "ok", 2, NULL);
  orc_rt_WrapperFunctionBufferDispose(&B);

  /* Built by the runtime, freed by C. */
  B = orc_rt_CreateWrapperFunctionBufferFromRange("freed with free()", 17);
  checkState(&B, "freed with free()", 17, NULL);
  free(B.Data.ValuePtr);

  B = orc_rt_CreateWrapperFunctionBufferFromOutOfBandError("freed too");
  checkState(&B, NULL, 0, "freed too");
  free(B.Data.ValuePtr);

  char *Msg = orc_rt_Error_toString(orc_rt_StringError_create("via free"));
  CHECK(Msg != NULL && strcmp(Msg, "via free") == 0);
  free(Msg);
}

static void testErrors(void) {
  orc_rt_Error_TypeId StringId = orc_rt_StringError_getTypeId();
  CHECK(StringId != NULL);
  CHECK(StringId == orc_rt_StringError_getTypeId()); /* stable */

  orc_rt_ErrorRef A = orc_rt_StringError_create("first failure");
  orc_rt_ErrorRef B = orc_rt_StringError_create("second failure");
  CHECK(A != orc_rt_ErrorSuccess && B != orc_rt_ErrorSuccess && A != B);
  CHECK(orc_rt_Error_getTypeId(A) == StringId);
  CHECK(orc_rt_Error_getTypeId(B) == StringId);
  CHECK(orc_rt_Error_getTypeId(orc_rt_ErrorSuccess) == NULL);

  char *Msg = orc_rt_Error_toString(A); /* consumes A */
  CHECK(Msg != NULL && strcmp(Msg, "first failure") == 0);
  orc_rt_Error_freeErrorMessage(Msg);
  orc_rt_Error_consume(B);

  /* The message is copied: the caller's string may change afterwards. */
  char Buf[16];
  strcpy(Buf, "original");
  orc_rt_ErrorRef C = orc_rt_StringError_create(Buf);
  strcpy(Buf, "changed");
  Msg = orc_rt_Error_toString(C);
  CHECK(Msg != NULL && strcmp(Msg, "original") == 0);
  orc_rt_Error_freeErrorMessage(Msg);

  orc_rt_ErrorRef N = orc_rt_StringError_create(NULL);
  CHECK(N != NULL && orc_rt_Error_getTypeId(N) == StringId);
  Msg = orc_rt_Error_toString(N);
  CHECK(Msg != NULL && strcmp(Msg, "(null)") == 0);
  orc_rt_Error_freeErrorMessage(Msg);

  Msg = orc_rt_Error_toString(orc_rt_ErrorSuccess);
  CHECK(Msg != NULL && strcmp(Msg, "") == 0);
  orc_rt_Error_freeErrorMessage(Msg);

  orc_rt_Error_consume(orc_rt_ErrorSuccess);
  orc_rt_Error_cantFail(orc_rt_ErrorSuccess); /* success: returns */
  orc_rt_Error_freeErrorMessage(NULL);
}

/* The wrapper-function types, with the pinned parameter order. Assigning the
   functions below to the typedefs fails to compile (-Werror) if either order
   changes. */
static orc_rt_SessionRef SeenSession;
static uint64_t SeenCallId;
static int ReturnCalls;
static orc_rt_WrapperFunctionBuffer SeenResult;

static void recordReturn(orc_rt_SessionRef S, uint64_t CallId,
                         orc_rt_WrapperFunctionBuffer ResultBytes) {
  SeenSession = S;
  SeenCallId = CallId;
  SeenResult = ResultBytes;
  ++ReturnCalls;
}

/* Echoes its argument bytes, reversed; passes an incoming error through. */
static void reverseWrapper(orc_rt_SessionRef S, uint64_t CallId,
                           orc_rt_WrapperFunctionReturn Return,
                           orc_rt_WrapperFunctionBuffer ArgBytes) {
  if (orc_rt_WrapperFunctionBufferGetOutOfBandError(&ArgBytes)) {
    Return(S, CallId, ArgBytes);
    return;
  }
  size_t N = orc_rt_WrapperFunctionBufferSize(&ArgBytes);
  orc_rt_WrapperFunctionBuffer Result = orc_rt_WrapperFunctionBufferAllocate(N);
  const char *In = orc_rt_WrapperFunctionBufferConstData(&ArgBytes);
  char *Out = orc_rt_WrapperFunctionBufferData(&Result);
  for (size_t I = 0; I != N; ++I)
    Out[I] = In[N - 1 - I];
  orc_rt_WrapperFunctionBufferDispose(&ArgBytes);
  Return(S, CallId, Result);
}

static void testWrapperFunctionTypes(void) {
  orc_rt_WrapperFunction Fn = reverseWrapper;
  orc_rt_WrapperFunctionReturn Ret = recordReturn;
  orc_rt_SessionRef S = (orc_rt_SessionRef)(uintptr_t)0x1000;

  Fn(S, 42, Ret, orc_rt_CreateWrapperFunctionBufferFromRange("0123456789", 10));
  CHECK(ReturnCalls == 1 && SeenSession == S && SeenCallId == 42);
  checkState(&SeenResult, "9876543210", 10, NULL);
  orc_rt_WrapperFunctionBufferDispose(&SeenResult);

  Fn(S, UINT64_MAX, Ret,
     orc_rt_CreateWrapperFunctionBufferFromOutOfBandError("bad args"));
  CHECK(ReturnCalls == 2 && SeenCallId == UINT64_MAX);
  checkState(&SeenResult, NULL, 0, "bad args");
  orc_rt_WrapperFunctionBufferDispose(&SeenResult);

  orc_rt_WrapperFunctionBuffer Empty;
  orc_rt_WrapperFunctionBufferInit(&Empty);
  Fn(S, 7, Ret, Empty);
  CHECK(ReturnCalls == 3 && SeenCallId == 7);
  checkState(&SeenResult, "", 0, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "cantFail") == 0) {
    orc_rt_Error_cantFail(orc_rt_StringError_create("deliberate failure"));
    printf("cantFail returned\n");
    return 3; /* must not get here */
  }
  printLayout();
  testConstructors();
  testMallocFreeInterop();
  testErrors();
  testWrapperFunctionTypes();
  printf("passed %d of %d checks\n", Checks - Failures, Checks);
  return Failures == 0 ? 0 : 1;
}
