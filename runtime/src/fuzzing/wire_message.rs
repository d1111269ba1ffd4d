//! The `wire_message` oracle: arbitrary bytes, read as a stream of
//! SimpleRemoteEPC frames, fed to a live session with every executor
//! service registered, over an in-process socket pair.
//!
//! The services are sandboxed (no code runs, no library loads, alloc
//! actions are scripted, reservations are capped) so that what the input
//! asks for cannot take the fuzzer down by design; everything else is the
//! real executor: the wire access, the session, the memory manager
//! touching real mappings, memory access through the kernel's checked
//! copies.
//!
//! To reach deep states, the oracle rewrites two things in each
//! CallWrapper: a tag below 2^32 names the bootstrap symbol with that index
//! (modulo their number, in name order); in the payload, a u64
//! `0xF0F0F0F0F0F0F0kk` becomes the address of symbol `kk` (instances), and
//! `0xE0E0E0E0_kk_oooooo` the base of the `kk`-th successful reservation
//! (memory manager or shared memory) plus `oooooo`.
//!
//! Checked: every CallWrapper gets exactly one Result with its seqno and tag
//! 0; the session ends as the first frame that is not a CallWrapper says
//! (Hangup or clean end of stream: orderly; anything else: a protocol
//! error); nothing hangs (every wait has a deadline); no panic is reported;
//! after shutdown no reservation is left.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::addr::ExecutorAddr;
use crate::dispatcher::InlineDispatcher;
use crate::error::{Error, ErrorKind};
use crate::services::alloc_actions::ActionCaller;
use crate::services::{ExecutorServices, ServiceOptions, host_process_info, names};
use crate::session::Session;
use crate::sps;
use crate::wire::{
    FrameReader, HEADER_SIZE, Message, Opcode, SetupInfo, WireControllerAccess, WireOptions,
};
use crate::wrapper::WrapperFunctionBuffer;

/// How long any one step may take before the oracle calls it a hang.
const DEADLINE: Duration = Duration::from_secs(20);
/// The largest reservation the sandbox grants.
const MAX_RESERVATION: u64 = 1 << 20;

/// What the first frame that is not a CallWrapper makes of the session.
#[derive(Debug, PartialEq)]
enum Expect {
    Orderly,
    Protocol(&'static str),
}

/// Alloc actions that never call: the function address picks the outcome.
fn scripted_actions() -> ActionCaller {
    ActionCaller::new(|f, _args| match f.value() % 4 {
        0 => WrapperFunctionBuffer::from(sps::to_vec(&Ok::<(), Error>(()))),
        1 => {
            WrapperFunctionBuffer::from(sps::to_vec(&Err::<(), _>(Error::msg("scripted failure"))))
        }
        2 => WrapperFunctionBuffer::out_of_band_error("scripted out-of-band failure"),
        _ => WrapperFunctionBuffer::empty(),
    })
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Replaces the placeholders of the module docs in `payload`.
fn substitute(payload: &mut [u8], symbols: &[ExecutorAddr], bases: &[ExecutorAddr]) {
    let mut i = 0;
    while i + 8 <= payload.len() {
        let v = u64_at(payload, i);
        let with = if v >> 8 == 0x00F0_F0F0_F0F0_F0F0 && !symbols.is_empty() {
            Some(symbols[(v & 0xff) as usize % symbols.len()].value())
        } else if v >> 32 == 0xE0E0_E0E0 && !bases.is_empty() {
            let k = ((v >> 24) & 0xff) as usize % bases.len();
            Some(bases[k].value().wrapping_add(v & 0x00ff_ffff))
        } else {
            None
        };
        match with {
            Some(w) => {
                payload[i..i + 8].copy_from_slice(&w.to_le_bytes());
                i += 8;
            }
            None => i += 1,
        }
    }
}

/// The oracle (see the module docs).
pub fn wire_message(data: &[u8]) {
    let reported: Arc<Mutex<Vec<Error>>> = Arc::new(Mutex::new(Vec::new()));
    let r = reported.clone();
    let session = Session::builder()
        .process_info(host_process_info())
        // Calls run on the reader thread, one at a time: deterministic.
        .dispatcher(InlineDispatcher)
        .error_reporter(move |e| r.lock().unwrap().push(e))
        .build()
        .expect("a session");
    let options = ServiceOptions {
        actions: scripted_actions(),
        run_code: false,
        open_libraries: false,
        max_reservation: MAX_RESERVATION,
    };
    let (services, bootstrap) =
        ExecutorServices::install_with(&session, options).expect("services");
    let (ended_tx, ended_rx) = mpsc::channel();
    session
        .set_on_disconnect(move |r| {
            let _ = ended_tx.send(r);
        })
        .unwrap();
    let (ours, theirs) = UnixStream::pair().expect("a socket pair");
    let (theirs_w, closer) = (theirs.try_clone().unwrap(), theirs.try_clone().unwrap());
    let wire_options = WireOptions {
        close_transport: Some(Arc::new(move || {
            let _ = closer.shutdown(std::net::Shutdown::Both);
        })),
        ..WireOptions::default()
    };
    session
        .attach_with(bootstrap, |hooks| {
            Ok(WireControllerAccess::new(
                hooks,
                theirs,
                theirs_w,
                wire_options,
            ))
        })
        .expect("attach");

    // Everything the executor sends, on a channel.
    let (msg_tx, msgs) = mpsc::channel::<Message>();
    let reader_end = ours.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut frames = FrameReader::new(reader_end);
        while let Ok(Some(m)) = frames.read_message() {
            if msg_tx.send(m).is_err() {
                break;
            }
        }
    });
    let recv = || {
        msgs.recv_timeout(DEADLINE)
            .expect("the executor answered in time")
    };
    let setup = recv();
    assert_eq!(setup.opcode, Opcode::Setup);
    let info = SetupInfo::from_bytes(setup.payload.bytes()).expect("Setup decodes");
    let by_name: BTreeMap<String, ExecutorAddr> = info.bootstrap_symbols;
    let symbols: Vec<ExecutorAddr> = by_name.values().copied().collect();
    let reserve = by_name[names::MEMORY_MANAGER_RESERVE];
    let shared_reserve = by_name[names::SHARED_MEMORY_RESERVE];

    let mut out = ours;
    let mut bases: Vec<ExecutorAddr> = Vec::new();
    let mut rest = data;
    let expect = loop {
        if rest.is_empty() {
            break Expect::Orderly;
        }
        if rest.len() < HEADER_SIZE {
            let _ = out.write_all(rest);
            break Expect::Protocol("Unexpected end-of-file");
        }
        let (size, opcode, seqno, tag) = (
            u64_at(rest, 0),
            u64_at(rest, 8),
            u64_at(rest, 16),
            u64_at(rest, 24),
        );
        if size < HEADER_SIZE as u64 {
            let _ = out.write_all(&rest[..HEADER_SIZE]);
            break Expect::Protocol("Message size too small");
        }
        if opcode > 3 {
            let _ = out.write_all(&rest[..HEADER_SIZE]);
            break Expect::Protocol("Unexpected opcode");
        }
        let payload_len = size - HEADER_SIZE as u64;
        if payload_len > (rest.len() - HEADER_SIZE) as u64 {
            // Truncated: the executor waits for the rest until we close.
            let _ = out.write_all(rest);
            break Expect::Protocol("Unexpected end-of-file");
        }
        let (frame, tail) = rest.split_at(HEADER_SIZE + payload_len as usize);
        rest = tail;
        match Opcode::from_raw(opcode).expect("checked above") {
            Opcode::Setup => {
                let _ = out.write_all(frame);
                break Expect::Protocol("Unexpected Setup opcode");
            }
            // The sandbox never calls the controller: no Result matches.
            Opcode::Result => {
                let _ = out.write_all(frame);
                break Expect::Protocol("No call for sequence number");
            }
            Opcode::Hangup => {
                let _ = out.write_all(frame);
                break Expect::Orderly;
            }
            Opcode::CallWrapper => {
                let target = if tag < 1 << 32 {
                    symbols[tag as usize % symbols.len()]
                } else {
                    ExecutorAddr::new(tag)
                };
                let mut payload = frame[HEADER_SIZE..].to_vec();
                substitute(&mut payload, &symbols, &bases);
                let mut bytes = Vec::new();
                crate::wire::write_message(
                    &mut bytes,
                    Opcode::CallWrapper,
                    seqno,
                    target,
                    &payload,
                )
                .unwrap();
                out.write_all(&bytes)
                    .expect("the executor reads while serving");
                let result = recv();
                assert_eq!(result.opcode, Opcode::Result, "one Result per call");
                assert_eq!(result.seqno, seqno, "the Result answers the call");
                assert_eq!(result.tag, ExecutorAddr::NULL);
                if target == reserve
                    && let Ok((Ok(base), _)) =
                        sps::from_prefix::<Result<ExecutorAddr, Error>>(result.payload.bytes())
                {
                    bases.push(base);
                }
                if target == shared_reserve
                    && let Ok((Ok((base, _name)), _)) = sps::from_prefix::<
                        Result<(ExecutorAddr, &[u8]), Error>,
                    >(result.payload.bytes())
                {
                    bases.push(base);
                }
            }
        }
    };
    let _ = out.shutdown(std::net::Shutdown::Write);
    let ended = ended_rx
        .recv_timeout(DEADLINE)
        .expect("the session ended in time");
    match (&expect, &ended) {
        (Expect::Orderly, Ok(())) => {}
        (Expect::Protocol(what), Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Protocol, "{e:?}");
            assert!(
                e.message().starts_with(what),
                "expected {what:?}, got {e:?}"
            );
        }
        _ => panic!("expected {expect:?}, the session ended with {ended:?}"),
    }
    // No Result without a call.
    assert!(msgs.try_recv().is_err(), "a message nobody asked for");
    let report = session.wait_for_shutdown().expect("shutdown");
    drop(session);
    let _ = out.shutdown(std::net::Shutdown::Both);
    reader.join().expect("the reader thread");
    assert_eq!(
        services.memory_manager.reservation_count(),
        0,
        "released at shutdown"
    );
    let errors = reported.lock().unwrap();
    assert!(
        errors
            .iter()
            .chain(report.errors.iter())
            .all(|e| e.kind() != ErrorKind::Panic),
        "a panic was contained: {errors:?} {:?}",
        report.errors
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(op: u64, seq: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [HEADER_SIZE as u64 + payload.len() as u64, op, seq, tag] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn an_empty_stream_is_an_orderly_session() {
        wire_message(&[]);
    }

    #[test]
    fn malformed_and_unregistered_frames_end_as_expected() {
        // (The seeds in fuzz/seeds/wire_message drive the services.)
        wire_message(&[frame(3, 1, 0, b"junk"), frame(1, 0, 0, &[])].concat());
        wire_message(&frame(9, 0, 0, &[]));
        wire_message(&frame(0, 0, 0, &[]));
        wire_message(&frame(2, 5, 0, &[0]));
        wire_message(&frame(3, 1, 1 << 40, b"unregistered"));
        wire_message(&[1, 2, 3]);
        let mut huge = frame(3, 1, 0, b"");
        huge[..8].copy_from_slice(&(1u64 << 62).to_le_bytes());
        wire_message(&huge);
    }

    /// The seed generator names bootstrap symbols by index in name order:
    /// its list must be the executor's, or the seeds miss their services.
    #[test]
    fn the_seed_generator_knows_every_bootstrap_symbol() {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/make_wire_seeds.py");
        let text = std::fs::read_to_string(&script).unwrap();
        let start = text.find("SYMBOLS = sorted([").unwrap();
        let end = start + text[start..].find("])").unwrap();
        let mut listed: Vec<String> = text[start..end]
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix('"')?
                    .strip_suffix("\",")
                    .map(str::to_owned)
            })
            .collect();
        listed.sort();
        let session = Session::builder()
            .dispatcher(InlineDispatcher)
            .build()
            .unwrap();
        let (_services, bootstrap) = ExecutorServices::install(&session).unwrap();
        let mut actual: Vec<String> = bootstrap
            .symbols
            .iter()
            .map(|(n, _)| n.to_owned())
            .collect();
        actual.extend([
            names::DISPATCH_CTX.to_owned(),
            names::DISPATCH_FN.to_owned(),
        ]);
        actual.sort();
        assert_eq!(listed, actual);
    }

    #[test]
    fn placeholders_are_replaced_in_place() {
        let syms = [ExecutorAddr::new(0x1000), ExecutorAddr::new(0x2000)];
        let bases = [ExecutorAddr::new(0x7000_0000)];
        let mut p = Vec::new();
        p.extend_from_slice(&0xF0F0_F0F0_F0F0_F001u64.to_le_bytes());
        p.push(9);
        p.extend_from_slice(&0xE0E0_E0E0_0000_0010u64.to_le_bytes());
        substitute(&mut p, &syms, &bases);
        assert_eq!(u64_at(&p, 0), 0x2000);
        assert_eq!(p[8], 9);
        assert_eq!(u64_at(&p, 9), 0x7000_0010);
    }
}
