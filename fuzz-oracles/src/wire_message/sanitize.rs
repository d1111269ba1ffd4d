//! The rewrite of every call bound for the executor into one that cannot run
//! arbitrary code or take unbounded memory: run-code and alloc-action
//! functions become harmless ones, sizes and counts are bounded.

use orc_executor::services::types::{AllocActionPair, FinalizeRequest};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::sps;
use orc_rt::sps::memory::AllocAction;

use super::MAX_RESERVE_PAGES;
use super::targets::{Known, SharedRequest, Target};
use crate::harmless::{self, Action};

/// Largest read-buffers request, in bytes over all ranges.
const MAX_READ_TOTAL: u64 = 1 << 20;
/// Most strings one read-strings request may read.
const MAX_READ_STRINGS: usize = 32;

impl Known {
    /// Rewrites one call so that executing it cannot run arbitrary code or
    /// take unbounded memory (module docs). Returns the tag and payload to
    /// send and what the call runs.
    pub(super) fn sanitize(
        &self,
        tag: ExecutorAddr,
        payload: &[u8],
    ) -> (ExecutorAddr, Vec<u8>, Option<Target>) {
        let Some(target) = self.classify(tag) else {
            if self.by_tag.contains_key(&tag) || !self.legacy_fallback || tag.is_null() {
                // Refused by the session: "no wrapper function registered".
                return (tag, payload.to_vec(), None);
            }
            // Anything else would be called as code: make it the echo.
            return (harmless::echo_addr(), payload.to_vec(), Some(Target::Echo));
        };
        let payload = match target {
            Target::Reserve | Target::SmReserve => {
                rewrite::<(ExecutorAddr, u64)>(payload, |(i, size)| {
                    let max = MAX_RESERVE_PAGES * orc_executor::sys::page_size();
                    (i, if size > max { size % (max + 1) } else { size })
                })
            }
            Target::Initialize => sanitize_initialize(payload),
            Target::SmInitialize => sanitize_shared_initialize(payload),
            Target::RunAsMain => rewrite::<(ExecutorAddr, Vec<&[u8]>)>(payload, |(f, argv)| {
                (harmless_or_null(f, harmless::main_addr()), argv)
            }),
            Target::RunAsVoid => {
                rewrite::<ExecutorAddr>(payload, |f| harmless_or_null(f, harmless::void_addr()))
            }
            Target::RunAsInt => rewrite::<(ExecutorAddr, i32)>(payload, |(f, x)| {
                let fns = harmless::int_addrs();
                let pick = if fns.contains(&f) {
                    f
                } else {
                    fns[(f.value() % 2) as usize]
                };
                (harmless_or_null(f, pick), x)
            }),
            Target::ReadBuffers => rewrite::<Vec<ExecutorAddrRange>>(payload, |ranges| {
                let mut budget = MAX_READ_TOTAL;
                ranges
                    .into_iter()
                    .map(|r| {
                        if r.end < r.start {
                            return r; // refused before reading
                        }
                        let len = r.size().min(budget).min(1 << 16);
                        budget -= len;
                        ExecutorAddrRange::new(r.start, ExecutorAddr::new(r.start.value() + len))
                    })
                    .collect::<Vec<_>>()
            }),
            Target::ReadStrings => rewrite::<Vec<ExecutorAddr>>(payload, |mut addrs| {
                addrs.truncate(MAX_READ_STRINGS);
                addrs
            }),
            Target::DylibOpen => {
                rewrite::<(ExecutorAddr, &[u8], u64)>(payload, |(i, path, mode)| {
                    (i, pick_path(path), mode)
                })
            }
            Target::EhRegister => Action::RegisterEh.sanitize_args(payload),
            Target::EhDeregister => Action::DeregisterEh.sanitize_args(payload),
            _ => payload.to_vec(),
        };
        (tag, payload, Some(target))
    }
}

/// Decodes the argument prefix as `A`; if it decodes, re-encodes `f(a)`
/// followed by the unread bytes, else leaves the bytes alone (the executor
/// decodes them with the same type and fails the same way).
fn rewrite<'a, A>(payload: &'a [u8], f: impl FnOnce(A) -> A) -> Vec<u8>
where
    A: sps::SpsDecode<'a> + sps::SpsEncode,
{
    match sps::from_prefix::<A>(payload) {
        Ok((a, rest)) => {
            let mut out = sps::to_vec(&f(a));
            out.extend_from_slice(rest);
            out
        }
        Err(_) => payload.to_vec(),
    }
}

fn harmless_or_null(f: ExecutorAddr, harmless: ExecutorAddr) -> ExecutorAddr {
    if f.is_null() { f } else { harmless }
}

/// The libraries a fuzzed `open` may name: the process, libm (already in
/// the process, harmless), a missing library, a missing path, a path with a
/// NUL (refused before `dlopen`).
pub(super) const PATHS: [&[u8]; 5] = [
    b"",
    b"libm.so.6",
    b"liborc-rt-fuzz-missing.so.1",
    b"/nonexistent/orc-rt/lib.so",
    b"bad\0path",
];

fn pick_path(path: &[u8]) -> &'static [u8] {
    if let Some(p) = PATHS.iter().find(|p| **p == path) {
        return p;
    }
    let h = path.iter().fold(path.len() as u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(*b))
    });
    PATHS[(h % PATHS.len() as u64) as usize]
}

/// An alloc action that only calls a harmless function.
fn harmless_action(call: &AllocAction) -> AllocAction {
    if call.is_none() {
        return call.clone();
    }
    let action = Action::ALL
        .iter()
        .copied()
        .find(|a| a.addr() == call.function)
        .unwrap_or(Action::ALL[(call.function.value() % Action::ALL.len() as u64) as usize]);
    AllocAction {
        function: action.addr(),
        args: action.sanitize_args(call.args.bytes()).into(),
    }
}

/// Action pairs that only call harmless functions.
fn harmless_actions(actions: &[AllocActionPair]) -> Vec<AllocActionPair> {
    actions
        .iter()
        .map(|p| AllocActionPair {
            finalize: harmless_action(&p.finalize),
            dealloc: harmless_action(&p.dealloc),
        })
        .collect()
}

/// A shared-memory initialize request whose actions only call harmless
/// functions.
fn sanitize_shared_initialize(payload: &[u8]) -> Vec<u8> {
    rewrite::<(ExecutorAddr, ExecutorAddr, SharedRequest)>(
        payload,
        |(instance, reservation, (segments, actions))| {
            (
                instance,
                reservation,
                (segments, harmless_actions(&actions)),
            )
        },
    )
}

/// An initialize request whose actions only call harmless functions.
fn sanitize_initialize(payload: &[u8]) -> Vec<u8> {
    rewrite::<(ExecutorAddr, FinalizeRequest<'_>)>(payload, |(instance, req)| {
        let actions = harmless_actions(&req.actions);
        (instance, FinalizeRequest { actions, ..req })
    })
}
