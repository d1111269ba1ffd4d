//! Checking the executor's answers: each has its wrapper's declared SPS
//! result type and agrees with the model wherever the model knows the answer.

use orc_executor::services::types::{ExecutorSymbolDef, FinalizeRequest};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::sps;

use super::controller::ControllerAnswer;
use super::framer::Delivered;
use super::harness::Harness;
use super::model::unmapped;
use super::targets::{SharedRequest, Target, width_bytes};
use crate::harmless;

impl Harness {
    pub(super) fn check_answer(&mut self, d: &Delivered, a: &[u8]) {
        let fail = |what: String| -> ! {
            panic!(
                "answer to seqno {} ({:?}, quiescent {}) {what}; payload {:?}; answer {:?}",
                d.seqno, d.target, d.quiescent, d.payload, a
            )
        };
        if !d.quiescent
            && matches!(
                d.target,
                Some(Target::Reserve | Target::Release | Target::SmReserve | Target::SmRelease)
            )
        {
            self.model_lost = true;
        }
        let q = d.quiescent && !self.executor_ended && !self.model_lost;
        let Some(target) = d.target else {
            // Refused: "no wrapper function registered" (out of band).
            if !a.is_empty() {
                fail("for an unregistered tag is not empty".into());
            }
            return;
        };
        match target {
            Target::Reserve => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, u64)>(&d.payload).ok();
                let size = req.map(|((_, size), _)| size);
                let page = orc_executor::sys::page_size();
                match &r {
                    // reserve(0), as LLVM 22: nothing mapped, address 0.
                    Some(Ok(base)) if base.is_null() => {
                        if size != Some(0) {
                            fail(format!("is address 0 for size {size:?}"));
                        }
                        self.model.zero_reserved = true;
                    }
                    Some(Ok(base)) => {
                        if !base.is_aligned(page) || size == Some(0) {
                            fail(format!(
                                "reservation {base} is not page-aligned or for 0 bytes"
                            ));
                        }
                        let size = size.unwrap_or(0);
                        (self.model.add_reservation(*base, size, false, q))
                            .unwrap_or_else(|e| fail(e));
                    }
                    _ => {}
                }
                if q {
                    // Any page multiple, 0 included (protocol 5.2).
                    let should_work = req.is_some_and(|((inst, size), _)| {
                        inst == self.known.mm_instance && size.is_multiple_of(page)
                    });
                    match (&r, should_work) {
                        (Some(Ok(_)), true) | (Some(Err(_)), false) | (None, false) => {}
                        _ => fail(format!(
                            "has the wrong outcome (expected success: {should_work})"
                        )),
                    }
                }
            }
            Target::Initialize => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                if let Ok(((_, req), _)) =
                    sps::from_prefix::<(ExecutorAddr, FinalizeRequest<'_>)>(&d.payload)
                {
                    for s in &req.segments {
                        self.model.touch(s.addr.value(), s.size);
                    }
                } else {
                    self.model.touch(0, u64::MAX);
                }
                if let Some(Ok(key)) = r {
                    self.model.keys.push(key.value());
                }
            }
            Target::Deinitialize => {
                typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
                // Dealloc actions may have run: nothing to model.
            }
            Target::Release => {
                let r = typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
                match sps::from_prefix::<(ExecutorAddr, Vec<ExecutorAddr>)>(&d.payload) {
                    Ok(((inst, bases), _)) if inst == self.known.mm_instance => {
                        let zero_was_live = self.model.zero_reserved;
                        let released = self.model.release(&bases);
                        for gone in &released.gone {
                            if q && !unmapped(gone.base, gone.size) {
                                fail(format!("left {:#x} mapped", gone.base));
                            }
                        }
                        let ok = matches!(r, Some(Ok(())));
                        if q && released
                            .outcome
                            .is_some_and(|should_work| ok != should_work)
                        {
                            fail(format!(
                                "has the wrong outcome (expected success: {:?}; the empty \
                                 reservation at 0 was live: {})",
                                released.outcome, zero_was_live
                            ));
                        }
                    }
                    Ok(_) => {
                        if q && !matches!(r, Some(Err(_))) {
                            fail("with a forged instance is not an error".into());
                        }
                    }
                    Err(_) => {}
                }
            }
            Target::Write(w) => {
                if !a.is_empty() {
                    fail("of a write is not empty".into());
                }
                let n = width_bytes(w);
                let entries = decode_writes(&d.payload, n);
                self.model_write(entries, q);
            }
            Target::WriteBuffers => {
                if !a.is_empty() {
                    fail("of a write is not empty".into());
                }
                let entries = sps::from_prefix::<Vec<(ExecutorAddr, &[u8])>>(&d.payload)
                    .ok()
                    .map(|(v, _)| {
                        v.into_iter()
                            .map(|(a, b)| (a.value(), b.to_vec()))
                            .collect()
                    });
                self.model_write(entries, q);
            }
            Target::Read(w) => {
                let n = width_bytes(w);
                let got = match w {
                    0 => read_values::<u8>(a, |x| vec![*x]),
                    1 => read_values::<u16>(a, |x| x.to_le_bytes().to_vec()),
                    2 => read_values::<u32>(a, |x| x.to_le_bytes().to_vec()),
                    3 => read_values::<u64>(a, |x| x.to_le_bytes().to_vec()),
                    _ => read_values::<ExecutorAddr>(a, |x| x.value().to_le_bytes().to_vec()),
                }
                .unwrap_or_else(|e| fail(e));
                let addrs = sps::from_prefix::<Vec<ExecutorAddr>>(&d.payload)
                    .ok()
                    .map(|(v, _)| v);
                if let (Some(addrs), true) = (addrs, q) {
                    let reads: Vec<(u64, usize)> = addrs.iter().map(|a| (a.value(), n)).collect();
                    self.check_reads(&reads, got).unwrap_or_else(|e| fail(e));
                }
            }
            Target::ReadBuffers => {
                let got = typed::<Vec<Vec<u8>>>(a).unwrap_or_else(|e| fail(e));
                let ranges = sps::from_prefix::<Vec<ExecutorAddrRange>>(&d.payload).ok();
                if let (Some((ranges, _)), true) = (ranges, q)
                    && ranges.iter().all(|r| r.end >= r.start)
                {
                    let reads: Vec<(u64, usize)> = ranges
                        .iter()
                        .map(|r| (r.start.value(), r.size() as usize))
                        .collect();
                    self.check_reads(&reads, got).unwrap_or_else(|e| fail(e));
                }
            }
            Target::ReadStrings => {
                let got = typed::<Vec<Vec<u8>>>(a).unwrap_or_else(|e| fail(e));
                let addrs = sps::from_prefix::<Vec<ExecutorAddr>>(&d.payload).ok();
                if let (Some((addrs, _)), true) = (addrs, q) {
                    let expected: Option<Vec<Vec<u8>>> = addrs
                        .iter()
                        .map(|a| {
                            let i = self.model.fresh_at(a.value(), 1)?;
                            let r = &self.model.live[i];
                            let tail = &r.bytes[(a.value() - r.base) as usize..];
                            let nul = tail.iter().position(|b| *b == 0)?;
                            Some(tail[..nul].to_vec())
                        })
                        .collect();
                    if let Some(expected) = expected
                        && got.as_ref() != Some(&expected)
                    {
                        fail(format!("read strings {got:?}, the model says {expected:?}"));
                    }
                }
            }
            Target::DylibOpen => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, &[u8], u64)>(&d.payload).ok();
                if let Some(Ok(h)) = r
                    && h != self.known.process_handle
                    && !self.model.handles.contains(&h)
                {
                    self.model.handles.push(h);
                }
                if let (Some(((inst, path, _), _)), true) = (req, q) {
                    let right = inst == self.known.dm_instance;
                    let ok = match (&r, right, path) {
                        (Some(Err(_)), false, _) => true,
                        (Some(Ok(h)), true, b"") => *h == self.known.process_handle,
                        (Some(Ok(_)), true, b"libm.so.6") => true,
                        (Some(Err(_)), true, p) => p != b"" && p != b"libm.so.6",
                        _ => false,
                    };
                    if !ok {
                        fail(format!(
                            "opening {path:?} (right instance: {right}) gave {r:?}"
                        ));
                    }
                }
            }
            Target::DylibResolve => {
                let r = typed::<Result<Vec<Option<ExecutorSymbolDef>>, Error>>(a)
                    .unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, Vec<(&[u8], bool)>)>(&d.payload).ok();
                if let (Some(((handle, syms), _)), true) = (req, q) {
                    if handle == self.known.process_handle {
                        let empty_required = syms.iter().any(|(n, req)| n.is_empty() && *req);
                        match (&r, empty_required) {
                            (Some(Err(_)), true) => {}
                            (Some(Ok(defs)), false) if defs.len() == syms.len() => {
                                for ((name, required), def) in syms.iter().zip(defs) {
                                    let found = def.is_some_and(|d| !d.addr.is_null());
                                    let ok = match *name {
                                        b"malloc" => found,
                                        b"orc_rt_fuzz_no_such_symbol" => {
                                            if *required {
                                                def.is_none()
                                            } else {
                                                *def == Some(absent())
                                            }
                                        }
                                        _ => true,
                                    };
                                    if !ok {
                                        fail(format!(
                                            "resolved {:?} (required {required}) as {def:?}",
                                            String::from_utf8_lossy(name)
                                        ));
                                    }
                                }
                            }
                            _ => fail(format!("resolving in the process gave {r:?}")),
                        }
                    } else if !self.model.handles.contains(&handle) && !matches!(r, Some(Err(_))) {
                        fail(format!("resolving in unknown handle {handle} gave {r:?}"));
                    }
                }
            }
            Target::RunAsMain => {
                let r = typed::<i64>(a).unwrap_or_else(|e| fail(e));
                if let (Ok(((f, argv), _)), true) = (
                    sps::from_prefix::<(ExecutorAddr, Vec<&[u8]>)>(&d.payload),
                    q,
                ) {
                    let expected = (!f.is_null() && argv.iter().all(|a| !a.contains(&0)))
                        .then(|| i64::from(harmless::expected_main(&argv)));
                    if r != expected {
                        fail(format!("ran main: {r:?}, expected {expected:?}"));
                    }
                }
            }
            Target::RunAsVoid => {
                let r = typed::<i32>(a).unwrap_or_else(|e| fail(e));
                if let (Ok((f, _)), true) = (sps::from_prefix::<ExecutorAddr>(&d.payload), q) {
                    let expected = (!f.is_null()).then_some(7);
                    if r != expected {
                        fail(format!("ran void: {r:?}, expected {expected:?}"));
                    }
                }
            }
            Target::RunAsInt => {
                let r = typed::<i32>(a).unwrap_or_else(|e| fail(e));
                if let (Ok(((f, x), _)), true) =
                    (sps::from_prefix::<(ExecutorAddr, i32)>(&d.payload), q)
                {
                    let [times3, controller] = harmless::int_addrs();
                    let ok = if f.is_null() {
                        r.is_none()
                    } else if f == times3 {
                        r == Some(x.wrapping_mul(3))
                    } else if f == controller {
                        self.check_controller_call(d.seqno, r)
                            .unwrap_or_else(|e| fail(e));
                        true
                    } else {
                        false
                    };
                    if !ok {
                        fail(format!("ran int({x}): {r:?}"));
                    }
                }
            }
            Target::EhRegister | Target::EhDeregister | Target::Gdb => {
                typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
            }
            Target::Echo => {
                if a != d.payload.as_slice() {
                    fail("of the echo is not its argument".into());
                }
            }
            Target::SmReserve => {
                let r =
                    typed::<Result<(ExecutorAddr, String), Error>>(a).unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, u64)>(&d.payload).ok();
                if let Some(Ok((base, _name))) = &r {
                    let size = req.map_or(0, |((_, s), _)| s);
                    (self.model.add_reservation(*base, size, true, q)).unwrap_or_else(|e| fail(e));
                }
                if q && req.is_some_and(|((inst, _), _)| inst != self.known.sm_instance)
                    && !matches!(r, Some(Err(_)))
                {
                    fail("with a forged instance is not an error".into());
                }
            }
            Target::SmInitialize => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                match sps::from_prefix::<(ExecutorAddr, ExecutorAddr, SharedRequest)>(&d.payload) {
                    Ok(((_, _, (segments, _)), _)) => {
                        for (_, addr, size) in &segments {
                            self.model.touch(addr.value(), *size);
                        }
                    }
                    Err(_) => self.model.touch(0, u64::MAX),
                }
                if let Some(Ok(key)) = r {
                    self.model.keys.push(key.value());
                }
            }
            Target::SmDeinitialize => {
                typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
            }
            Target::SmRelease => {
                let r = typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
                match sps::from_prefix::<(ExecutorAddr, Vec<ExecutorAddr>)>(&d.payload) {
                    Ok(((inst, bases), _)) if inst == self.known.sm_instance => {
                        for b in bases {
                            self.model
                                .live
                                .retain(|r| !(r.shared && r.base == b.value()));
                        }
                    }
                    Ok(_) => {
                        if q && !matches!(r, Some(Err(_))) {
                            fail("with a forged instance is not an error".into());
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        if q {
            self.check_quiescent().unwrap_or_else(|e| fail(e));
        }
    }

    /// The JIT'd code of call `seqno` called the controller once (nothing
    /// else in flight) and returned `r`: the answer's length or -1 for an
    /// error ([`harmless`]'s `calls_controller_fn`). It must have got what
    /// the controller's Result said (protocol 3.1): kind 0 its bytes, kind
    /// 1 an out-of-band error with the Result's message, and an error if the
    /// Result ended the session.
    fn check_controller_call(&self, seqno: u64, r: Option<i32>) -> Result<(), String> {
        let got = harmless::take_controller_answer();
        let answer = {
            let log = self.shared.log();
            // Exactly one executor call since this call was sent: its own.
            match self.controller_calls_before.get(&seqno) {
                Some(&before) if log.controller_calls.len() == before + 1 => {
                    log.controller_calls[before].clone()
                }
                _ => ControllerAnswer::Unknown,
            }
        };
        let ok = match &answer {
            ControllerAnswer::Value(bytes) => {
                r == i32::try_from(bytes.len()).ok() && got.as_ref() == Some(&Ok(bytes.clone()))
            }
            ControllerAnswer::Error(message) => {
                r == Some(-1) && got.as_ref() == Some(&Err(message.as_bytes().to_vec()))
            }
            ControllerAnswer::Failed => r == Some(-1),
            ControllerAnswer::Unknown => r.is_some_and(|v| v >= -1),
        };
        if ok {
            Ok(())
        } else {
            let got = got.map(|g| match g {
                Ok(bytes) => format!("the value {bytes:?}"),
                Err(message) => format!("the error {:?}", String::from_utf8_lossy(&message)),
            });
            Err(format!(
                "called the controller: returned {r:?} having got {got:?}, \
                 the controller's Result says {answer:?}"
            ))
        }
    }

    /// Applies a write to the model. `entries`: `None` if undecodable.
    fn model_write(&mut self, entries: Option<Vec<(u64, Vec<u8>)>>, q: bool) {
        let Some(entries) = entries else { return };
        let all_fresh = entries
            .iter()
            .all(|(a, b)| self.model.fresh_at(*a, b.len() as u64).is_some());
        let any_outside = entries
            .iter()
            .any(|(a, b)| self.model.find(*a, b.len() as u64).is_none());
        if q && all_fresh {
            for (a, b) in entries {
                let i = self.model.fresh_at(a, b.len() as u64).expect("checked");
                let r = &mut self.model.live[i];
                let off = (a - r.base) as usize;
                r.bytes[off..off + b.len()].copy_from_slice(&b);
            }
        } else if q && any_outside {
            // Refused before anything is written: the model stands.
        } else {
            for (a, b) in entries {
                self.model.touch(a, b.len() as u64);
            }
        }
    }

    /// Reads of `(addr, len)` all inside fresh reservations must succeed
    /// with the model's bytes.
    fn check_reads(&self, reads: &[(u64, usize)], got: Option<Vec<Vec<u8>>>) -> Result<(), String> {
        let expected: Option<Vec<Vec<u8>>> = reads
            .iter()
            .map(|&(a, n)| {
                let i = self.model.fresh_at(a, n as u64)?;
                let r = &self.model.live[i];
                let off = (a - r.base) as usize;
                Some(r.bytes[off..off + n].to_vec())
            })
            .collect();
        match expected {
            Some(expected) if got.as_ref() != Some(&expected) => {
                Err(format!("read {got:?}, the model says {expected:?}"))
            }
            _ => Ok(()),
        }
    }

    /// With nothing in flight, the memory manager holds exactly the
    /// reservations the controller knows of.
    fn check_quiescent(&self) -> Result<(), String> {
        let n = self.services.memory_manager.reservation_count();
        let shm = self.services.shared_memory.reservation_count();
        let mapped = orc_executor::testing::live_resources().regions;
        let known_shm = self.model.live.iter().filter(|r| r.shared).count();
        let known = self.model.live.len() - known_shm;
        if n != known || shm != known_shm || mapped != n + shm {
            return Err(format!(
                "the executor holds {n} reservations and {shm} shared ones ({mapped} mappings), \
                 the controller knows {known} and {known_shm}"
            ));
        }
        Ok(())
    }
}

/// The answer is empty (an out-of-band error) or exactly a `T`.
fn typed<'a, T: sps::SpsDecode<'a>>(a: &'a [u8]) -> Result<Option<T>, String> {
    if a.is_empty() {
        return Ok(None);
    }
    sps::from_bytes::<T>(a)
        .map(Some)
        .map_err(|e| format!("does not decode as {}: {e}", std::any::type_name::<T>()))
}

/// The answer of a read of `T`s, each value as its bytes in memory.
fn read_values<'a, T: sps::SpsDecode<'a>>(
    a: &'a [u8],
    bytes: impl Fn(&T) -> Vec<u8>,
) -> Result<Option<Vec<Vec<u8>>>, String> {
    typed::<Vec<T>>(a).map(|v| v.map(|v| v.iter().map(bytes).collect()))
}

/// What resolve returns for a weak symbol that is missing.
fn absent() -> ExecutorSymbolDef {
    ExecutorSymbolDef {
        addr: ExecutorAddr::NULL,
        flags: orc_executor::services::types::SYMBOL_FLAG_EXPORTED,
        target_flags: 0,
    }
}

/// Decodes `sequence<tuple<Addr, uN>>` into (address, bytes) pairs.
fn decode_writes(payload: &[u8], n: usize) -> Option<Vec<(u64, Vec<u8>)>> {
    let (count, mut rest) = sps::from_prefix::<u64>(payload).ok()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let (a, r) = sps::from_prefix::<ExecutorAddr>(rest).ok()?;
        if r.len() < n {
            return None;
        }
        out.push((a.value(), r[..n].to_vec()));
        rest = &r[n..];
    }
    Some(out)
}
