//! Building typed calls of the published wrapper functions from the input's
//! [`Call`]s, with addresses resolved against the model.

use orc_executor::services::shared_memory::SharedSegment;
use orc_executor::services::types::{AllocActionPair, FinalizeRequest, SegmentRequest};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::sps;
use orc_rt::sps::memory::{AllocAction, AllocGroup};

use super::MAX_RESERVE_PAGES;
use super::harness::Harness;
use super::input::{ActionCall, Call};
use super::sanitize::PATHS;
use super::targets::{Target, width_bytes};
use crate::harmless::{self, Action};

impl Harness {
    fn instance(&self, right: bool, of: ExecutorAddr) -> ExecutorAddr {
        if right {
            of
        } else {
            ExecutorAddr::new(of.value() ^ 0x10)
        }
    }

    pub(super) fn build(&self, call: &Call) -> (Target, Vec<u8>) {
        let m = &self.model;
        let mm = |ok: bool| self.instance(ok, self.known.mm_instance);
        match call {
            Call::Reserve {
                instance,
                pages,
                misalign,
            } => {
                let size = u64::from(*pages) % (MAX_RESERVE_PAGES + 1)
                    * orc_executor::sys::page_size()
                    + u64::from(*misalign);
                (Target::Reserve, sps::to_vec(&(mm(*instance), size)))
            }
            Call::Initialize {
                instance,
                segments,
                actions,
            } => {
                let segs: Vec<(u8, ExecutorAddr, u64, &[u8])> = segments
                    .iter()
                    .map(|s| {
                        let addr = m.resolve(&s.addr);
                        let rsize = m
                            .find(addr.value(), 0)
                            .map_or(orc_executor::sys::page_size(), |i| m.live[i].size);
                        (
                            s.group,
                            addr,
                            u64::from(s.size) % (rsize + 17),
                            &s.content[..],
                        )
                    })
                    .collect();
                let act = typed_action;
                let req = FinalizeRequest {
                    segments: segs
                        .iter()
                        .map(|&(group, addr, size, content)| SegmentRequest {
                            // Undefined bits cannot be encoded through the
                            // typed request; they are covered by raw calls.
                            group: AllocGroup::from_bits(group).unwrap_or_default(),
                            addr,
                            size,
                            content,
                        })
                        .collect(),
                    actions: actions
                        .iter()
                        .map(|(f, d)| AllocActionPair {
                            finalize: act(f),
                            dealloc: act(d),
                        })
                        .collect(),
                };
                (Target::Initialize, sps::to_vec(&(mm(*instance), req)))
            }
            Call::Deinitialize { instance, keys } => {
                let keys: Vec<ExecutorAddr> = keys.iter().map(|k| m.resolve(k)).collect();
                (Target::Deinitialize, sps::to_vec(&(mm(*instance), keys)))
            }
            Call::Release { instance, bases } => {
                let bases: Vec<ExecutorAddr> = bases.iter().map(|k| m.resolve(k)).collect();
                (Target::Release, sps::to_vec(&(mm(*instance), bases)))
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
            Call::Read { width, addrs } => {
                let a: Vec<ExecutorAddr> = addrs.iter().map(|a| m.resolve(a)).collect();
                (Target::Read(*width % 5), sps::to_vec(&a))
            }
            Call::ReadBuffers { ranges } => {
                let r: Vec<ExecutorAddrRange> = ranges
                    .iter()
                    .map(|(a, len)| {
                        let start = m.resolve(a);
                        ExecutorAddrRange::new(
                            start,
                            ExecutorAddr::new(start.value().wrapping_add(u64::from(*len))),
                        )
                    })
                    .collect();
                (Target::ReadBuffers, sps::to_vec(&r))
            }
            Call::ReadStrings { addrs } => {
                let a: Vec<ExecutorAddr> = addrs.iter().map(|a| m.resolve(a)).collect();
                (Target::ReadStrings, sps::to_vec(&a))
            }
            Call::DylibOpen {
                instance,
                path,
                mode,
            } => {
                let path = PATHS[*path as usize % PATHS.len()];
                let dm = self.instance(*instance, self.known.dm_instance);
                (Target::DylibOpen, sps::to_vec(&(dm, path, *mode)))
            }
            Call::DylibResolve { handle, symbols } => {
                let handle = match *handle as usize % (2 + m.handles.len()) {
                    0 => self.known.process_handle,
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
            Call::Gdb { addr, len, notify } => {
                let start = m.resolve(addr);
                let range = ExecutorAddrRange::new(
                    start,
                    ExecutorAddr::new(start.value().wrapping_add(u64::from(*len))),
                );
                (Target::Gdb, sps::to_vec(&(range, *notify)))
            }
            Call::Echo(bytes) => (Target::Echo, bytes.clone()),
            Call::SmReserve { instance, pages } => {
                let size =
                    u64::from(*pages) % (MAX_RESERVE_PAGES + 1) * orc_executor::sys::page_size();
                let sm = self.instance(*instance, self.known.sm_instance);
                (Target::SmReserve, sps::to_vec(&(sm, size)))
            }
            Call::SmInitialize {
                instance,
                reservation,
                segments,
                actions,
            } => {
                let sm = self.instance(*instance, self.known.sm_instance);
                let segs: Vec<SharedSegment> = segments
                    .iter()
                    .map(|(group, addr, size)| {
                        let addr = m.resolve(addr);
                        let rsize = m
                            .find(addr.value(), 0)
                            .map_or(orc_executor::sys::page_size(), |i| m.live[i].size);
                        (
                            AllocGroup::from_bits(*group).unwrap_or_default(),
                            addr,
                            u64::from(*size) % (rsize + 17),
                        )
                    })
                    .collect();
                let actions: Vec<AllocActionPair> = actions
                    .iter()
                    .map(|(f, d)| AllocActionPair {
                        finalize: typed_action(f),
                        dealloc: typed_action(d),
                    })
                    .collect();
                (
                    Target::SmInitialize,
                    sps::to_vec(&(sm, m.resolve(reservation), (segs, actions))),
                )
            }
            Call::SmDeinitialize { instance, keys } => {
                let sm = self.instance(*instance, self.known.sm_instance);
                let keys: Vec<ExecutorAddr> = keys.iter().map(|k| m.resolve(k)).collect();
                (Target::SmDeinitialize, sps::to_vec(&(sm, keys)))
            }
            Call::SmRelease { instance, bases } => {
                let sm = self.instance(*instance, self.known.sm_instance);
                let bases: Vec<ExecutorAddr> = bases.iter().map(|k| m.resolve(k)).collect();
                (Target::SmRelease, sps::to_vec(&(sm, bases)))
            }
        }
    }
}

/// The alloc action a typed call names: none, or a harmless function.
pub(super) fn typed_action(a: &ActionCall) -> AllocAction {
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

/// Symbol names a typed resolve may ask for.
pub(super) const SYMBOLS: [&[u8]; 5] = [
    b"malloc",
    b"__jit_debug_register_code",
    b"",
    b"orc_rt_fuzz_no_such_symbol",
    b"cos",
];
