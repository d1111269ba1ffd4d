/* The session C API from C: compiled against include/orc-rt-c/orc-rt.h with
 * -Wall -Wextra -Werror, linked with the orc-rt static library and run by
 * runtime/tests/session_c_api.rs, which checks the last line:
 * "passed N of N checks".
 */

#define _POSIX_C_SOURCE 200809L

#include "orc-rt-c/orc-rt.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* What the session's error reporter saw. */
typedef struct {
  pthread_mutex_t M;
  int Count;
  char Last[256];
} Reports;

static void report(void *Ctx, orc_rt_ErrorRef Err) {
  Reports *R = (Reports *)Ctx;
  char *Msg = orc_rt_Error_toString(Err);
  pthread_mutex_lock(&R->M);
  ++R->Count;
  snprintf(R->Last, sizeof(R->Last), "%s", Msg ? Msg : "(oom)");
  pthread_mutex_unlock(&R->M);
  orc_rt_Error_freeErrorMessage(Msg);
}

static int reportCount(Reports *R) {
  pthread_mutex_lock(&R->M);
  int N = R->Count;
  pthread_mutex_unlock(&R->M);
  return N;
}

/* What a callController Return saw. */
typedef struct {
  int Calls;
  orc_rt_SessionRef S;
  char Msg[64];
} CallResult;

static void onResult(orc_rt_SessionRef S, orc_rt_WrapperFunctionBuffer Result,
                     void *Ctx) {
  CallResult *CR = (CallResult *)Ctx;
  ++CR->Calls;
  CR->S = S;
  const char *Err = orc_rt_WrapperFunctionBufferGetOutOfBandError(&Result);
  snprintf(CR->Msg, sizeof(CR->Msg), "%s", Err ? Err : "");
  orc_rt_WrapperFunctionBufferDispose(&Result);
}

/* An asynchronous wrapper function (the pinned order: S, CallId, Return,
   ArgBytes): echoes its arguments. */
static void echoWrapper(orc_rt_SessionRef S, uint64_t CallId,
                        orc_rt_WrapperFunctionReturn Return,
                        orc_rt_WrapperFunctionBuffer ArgBytes) {
  Return(S, CallId, ArgBytes);
}

static void sleepMs(long Ms) {
  struct timespec T = {Ms / 1000, (Ms % 1000) * 1000000L};
  nanosleep(&T, NULL);
}

/* Leaves a scope from another thread, later; records that it did. */
typedef struct {
  orc_rt_ExecutionScopeToken Token;
  long DelayMs;
  volatile int Left;
} LeaveLater;

static void *leaveLater(void *P) {
  LeaveLater *L = (LeaveLater *)P;
  sleepMs(L->DelayMs);
  L->Left = 1;
  orc_rt_Session_leaveScope(L->Token);
  return NULL;
}

int main(void) {
  Reports R;
  pthread_mutex_init(&R.M, NULL);
  R.Count = 0;
  R.Last[0] = 0;

  orc_rt_SessionRef S = orc_rt_Session_create(report, &R);
  CHECK(S != NULL);

  /* Entering nests; leaving works from any thread. */
  orc_rt_ExecutionScopeToken T1 = orc_rt_Session_enterScope(S);
  orc_rt_ExecutionScopeToken T2 = orc_rt_Session_enterScope(S);
  CHECK(T1 != NULL);
  CHECK(T2 != NULL);
  LeaveLater Now = {T2, 0, 0};
  pthread_t Th;
  CHECK(pthread_create(&Th, NULL, leaveLater, &Now) == 0);
  pthread_join(Th, NULL);
  CHECK(Now.Left == 1);
  orc_rt_Session_leaveScope(T1);
  CHECK(reportCount(&R) == 0);

  /* A leave without an enter is reported, not applied. */
  orc_rt_Session_leaveScope(T1);
  CHECK(reportCount(&R) == 1);
  CHECK(strcmp(R.Last,
               "orc_rt_Session_leaveScope without a matching enterScope") ==
        0);

  /* No controller attached: Return runs once, inline, with S and Ctx. */
  CallResult CR = {0, NULL, ""};
  orc_rt_Session_callController(
      S, (orc_rt_ControllerHandlerTag)(uintptr_t)0x1234,
      orc_rt_CreateWrapperFunctionBufferFromRange("0123456789", 10), onResult,
      &CR);
  CHECK(CR.Calls == 1);
  CHECK(CR.S == S);
  CHECK(strcmp(CR.Msg, "no controller attached") == 0);

  /* Errors from C go to the reporter; success is nothing. */
  orc_rt_Session_reportError(S, orc_rt_StringError_create("from C"));
  CHECK(reportCount(&R) == 2);
  CHECK(strcmp(R.Last, "from C") == 0);
  orc_rt_Session_reportError(S, orc_rt_ErrorSuccess);
  CHECK(reportCount(&R) == 2);

  /* Registering an asynchronous wrapper function. */
  CHECK(orc_rt_Session_registerAsyncWrapperFunction(S, echoWrapper) == 0);
  CHECK(orc_rt_Session_registerAsyncWrapperFunction(NULL, echoWrapper) == -1);

  /* Shutdown waits for a token held on another thread, and refuses new
     entries meanwhile. */
  orc_rt_ExecutionScopeToken Held = orc_rt_Session_enterScope(S);
  CHECK(Held != NULL);
  orc_rt_Session_shutdown(S);
  CHECK(orc_rt_Session_enterScope(S) == NULL);
  LeaveLater Later = {Held, 50, 0};
  CHECK(pthread_create(&Th, NULL, leaveLater, &Later) == 0);
  orc_rt_Session_destroy(S); /* blocks until Later left */
  CHECK(Later.Left == 1);
  pthread_join(Th, NULL);
  CHECK(reportCount(&R) == 2);

  /* NULL is tolerated everywhere. */
  orc_rt_Session_shutdown(NULL);
  orc_rt_Session_detach(NULL);
  CHECK(orc_rt_Session_enterScope(NULL) == NULL);
  orc_rt_Session_leaveScope(NULL);
  orc_rt_Session_reportError(NULL, orc_rt_StringError_create("dropped"));
  CR.Calls = 0;
  orc_rt_Session_callController(NULL, NULL,
                                orc_rt_WrapperFunctionBufferAllocate(20),
                                onResult, &CR);
  CHECK(CR.Calls == 0);
  orc_rt_Session_destroy(NULL);

  printf("passed %d of %d checks\n", Checks - Failures, Checks);
  return Failures ? 1 : 0;
}
