//! Building typed calls of the published wrapper functions from the input's
//! [`Call`]s, with addresses resolved against the model.

use orc_executor::services::shared_memory::SharedSegment;
use orc_executor::services::types::{AllocActionPair, FinalizeRequest, SegmentRequest};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::sps;
use orc_rt::sps::memory::{AllocAction, AllocGroup};

use super::MAX_RESERVE_PAGES;
use super::input::{ActionCall, Addr, Call};
use super::model::Model;
use super::sanitize::PATHS;
use super::targets::{Known, Target, width_bytes};
use crate::harmless::{self, Action};

/// Symbol names a typed resolve may ask for.
const SYMBOLS: [&[u8]; 5] = [
    b"malloc",
    b"__jit_debug_register_code",
    b"",
    b"orc_rt_fuzz_no_such_symbol",
    b"cos",
];

/// The wrapper function `call` names and its argument bytes.
pub(super) fn build(call: &Call, known: &Known, m: &Model) -> (Target, Vec<u8>) {
    // The right instance, or a forged one.
    let instance = |right: bool, of: ExecutorAddr| {
        if right {
            of
        } else {
            ExecutorAddr::new(of.value() ^ 0x10)
        }
    };
    let mm = |right: bool| instance(right, known.mm_instance);
    let sm = |right: bool| instance(right, known.sm_instance);
    let addrs =
        |addrs: &[Addr]| -> Vec<ExecutorAddr> { addrs.iter().map(|a| m.resolve(a)).collect() };
    match call {
        Call::Reserve {
            instance,
            pages,
            misalign,
        } => {
            let size = reserve_size(*pages) + u64::from(*misalign);
            (Target::Reserve, sps::to_vec(&(mm(*instance), size)))
        }
        Call::Initialize {
            instance,
            segments,
            actions,
        } => {
            let req = FinalizeRequest {
                segments: segments
                    .iter()
                    .map(|s| {
                        let (addr, size) = m.segment(&s.addr, s.size);
                        SegmentRequest {
                            // Undefined bits cannot be encoded through the
                            // typed request; they are covered by raw calls.
                            group: AllocGroup::from_bits(s.group).unwrap_or_default(),
                            addr,
                            size,
                            content: &s.content[..],
                        }
                    })
                    .collect(),
                actions: typed_actions(actions),
            };
            (Target::Initialize, sps::to_vec(&(mm(*instance), req)))
        }
        Call::Deinitialize { instance, keys } => (
            Target::Deinitialize,
            sps::to_vec(&(mm(*instance), addrs(keys))),
        ),
        Call::Release { instance, bases } => {
            (Target::Release, sps::to_vec(&(mm(*instance), addrs(bases))))
        }
        Call::Write { width, entries } => {
            let w = *width % 5;
            let mut out = sps::to_vec(&(entries.len() as u64));
            for (a, v) in entries {
                out.extend_from_slice(&sps::to_vec(&m.resolve(a)));
                out.extend_from_slice(&v.to_le_bytes()[..width_bytes(w)]);
            }
            (Target::Write(w), out)
        }
        Call::WriteBuffers { entries } => {
            let e: Vec<(ExecutorAddr, &[u8])> = entries
                .iter()
                .map(|(a, b)| (m.resolve(a), &b[..]))
                .collect();
            (Target::WriteBuffers, sps::to_vec(&e))
        }
        Call::Read { width, addrs: a } => (Target::Read(*width % 5), sps::to_vec(&addrs(a))),
        Call::ReadBuffers { ranges } => {
            let r: Vec<ExecutorAddrRange> = ranges
                .iter()
                .map(|(a, len)| range(m.resolve(a), *len))
                .collect();
            (Target::ReadBuffers, sps::to_vec(&r))
        }
        Call::ReadStrings { addrs: a } => (Target::ReadStrings, sps::to_vec(&addrs(a))),
        Call::DylibOpen {
            instance: right,
            path,
            mode,
        } => {
            let path = PATHS[*path as usize % PATHS.len()];
            let dm = instance(*right, known.dm_instance);
            (Target::DylibOpen, sps::to_vec(&(dm, path, *mode)))
        }
        Call::DylibResolve { handle, symbols } => {
            let handle = match *handle as usize % (2 + m.handles.len()) {
                0 => known.process_handle,
                1 => ExecutorAddr::new(0x1234_5678),
                i => m.handles[i - 2],
            };
            let syms: Vec<(&[u8], bool)> = symbols
                .iter()
                .map(|(n, req)| (SYMBOLS[*n as usize % SYMBOLS.len()], *req))
                .collect();
            (Target::DylibResolve, sps::to_vec(&(handle, syms)))
        }
        Call::RunAsMain { null, argv } => {
            let f = if *null {
                ExecutorAddr::NULL
            } else {
                harmless::main_addr()
            };
            let argv: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
            (Target::RunAsMain, sps::to_vec(&(f, argv)))
        }
        Call::RunAsVoid { null } => {
            let f = if *null {
                ExecutorAddr::NULL
            } else {
                harmless::void_addr()
            };
            (Target::RunAsVoid, sps::to_vec(&f))
        }
        Call::RunAsInt { which, arg } => {
            let f = match which % 3 {
                0 => ExecutorAddr::NULL,
                i => harmless::int_addrs()[i as usize - 1],
            };
            (Target::RunAsInt, sps::to_vec(&(f, *arg)))
        }
        Call::EhFrame { register, empty } => {
            let range = if *empty {
                ExecutorAddrRange::new(ExecutorAddr::new(64), ExecutorAddr::new(64))
            } else {
                harmless::eh_section()
            };
            let t = if *register {
                Target::EhRegister
            } else {
                Target::EhDeregister
            };
            (t, sps::to_vec(&range))
        }
        Call::Gdb { addr, len, notify } => (
            Target::Gdb,
            sps::to_vec(&(range(m.resolve(addr), *len), *notify)),
        ),
        Call::Echo(bytes) => (Target::Echo, bytes.clone()),
        Call::SmReserve { instance, pages } => (
            Target::SmReserve,
            sps::to_vec(&(sm(*instance), reserve_size(*pages))),
        ),
        Call::SmInitialize {
            instance,
            reservation,
            segments,
            actions,
        } => {
            let segs: Vec<SharedSegment> = segments
                .iter()
                .map(|(group, addr, size)| {
                    let (addr, size) = m.segment(addr, *size);
                    (
                        AllocGroup::from_bits(*group).unwrap_or_default(),
                        addr,
                        size,
                    )
                })
                .collect();
            let request = (segs, typed_actions(actions));
            (
                Target::SmInitialize,
                sps::to_vec(&(sm(*instance), m.resolve(reservation), request)),
            )
        }
        Call::SmDeinitialize { instance, keys } => (
            Target::SmDeinitialize,
            sps::to_vec(&(sm(*instance), addrs(keys))),
        ),
        Call::SmRelease { instance, bases } => (
            Target::SmRelease,
            sps::to_vec(&(sm(*instance), addrs(bases))),
        ),
    }
}

/// A reservation of `pages` (modulo the most a call may ask for) pages.
fn reserve_size(pages: u8) -> u64 {
    u64::from(pages) % (MAX_RESERVE_PAGES + 1) * orc_executor::sys::page_size()
}

/// `[start, start + len)`, the end wrapping around.
fn range(start: ExecutorAddr, len: u16) -> ExecutorAddrRange {
    ExecutorAddrRange::new(
        start,
        ExecutorAddr::new(start.value().wrapping_add(u64::from(len))),
    )
}

/// The alloc action pairs a typed call names.
fn typed_actions(actions: &[(ActionCall, ActionCall)]) -> Vec<AllocActionPair> {
    actions
        .iter()
        .map(|(f, d)| AllocActionPair {
            finalize: typed_action(f),
            dealloc: typed_action(d),
        })
        .collect()
}

/// The alloc action a typed call names: none, or a harmless function.
fn typed_action(a: &ActionCall) -> AllocAction {
    let which = a.which as usize % (Action::ALL.len() + 1);
    if which == 0 {
        AllocAction::none()
    } else {
        let action = Action::ALL[which - 1];
        AllocAction {
            function: action.addr(),
            args: action.sanitize_args(&a.args).into(),
        }
    }
}
