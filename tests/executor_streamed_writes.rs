//! Bulk memory writes, which `orc-executor` streams from the pipe straight
//! into JIT memory (`wire::StreamedCall`): they must give exactly the
//! results and memory of the ordinary, buffered path, whatever the call
//! holds, and leave the stream in step for the next message.

mod executor_support;

use executor_support::{Executor, args, assert_exit, executor_binary, own_profile};
use orc_executor::services::names;
use orc_executor::services::types::{AllocGroup, FinalizeRequest, SegmentRequest};
use orc_executor::wire::{Opcode, STREAM_THRESHOLD};
use orc_rt::sps;
use orc_rt::{Error, ExecutorAddr, ExecutorAddrRange};

fn reserve(ex: &mut Executor, seqno: u64, size: u64) -> ExecutorAddr {
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let r = ex.call(
        seqno,
        ex.symbol(names::MEMORY_MANAGER_RESERVE),
        &args(&(mm, size)),
    );
    sps::from_bytes::<Result<ExecutorAddr, Error>>(&r)
        .unwrap()
        .expect("reserve succeeds")
}

fn read_back(ex: &mut Executor, seqno: u64, addr: ExecutorAddr, len: usize) -> Vec<u8> {
    let range = ExecutorAddrRange::new(addr, addr + len as u64);
    let r = ex.call(seqno, ex.symbol(names::READ_BUFFERS), &args(&vec![range]));
    let mut buffers = sps::from_bytes::<Vec<Vec<u8>>>(&r).expect("read_buffers result");
    assert_eq!(buffers.len(), 1);
    buffers.pop().unwrap()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn write_buffers(buffers: &[(ExecutorAddr, &[u8])]) -> Vec<u8> {
    args(&buffers.to_vec())
}

#[test]
fn large_writes_land_in_place_also_many_in_flight() {
    let mut ex = Executor::start();
    let len = 1 << 20;
    let base = reserve(&mut ex, 1, 4 * len as u64);
    let write = ex.symbol(names::WRITE_BUFFERS);
    // One at an odd offset, then three sent back to back before any result
    // is read: the reader holds the start of the next one in its buffer.
    let first = pattern(len, 1);
    assert!(
        ex.call(2, write, &write_buffers(&[(base + 3, &first)]))
            .is_empty()
    );
    assert_eq!(read_back(&mut ex, 3, base + 3, len), first);
    let sizes = [STREAM_THRESHOLD as usize, len, 2 * len];
    let mut at = base;
    for (i, &size) in sizes.iter().enumerate() {
        let bytes = pattern(size, 10 + i as u8);
        ex.send(
            Opcode::CallWrapper,
            10 + i as u64,
            write,
            &write_buffers(&[(at, &bytes)]),
        );
        at += size as u64 / 2;
    }
    for i in 0..sizes.len() as u64 {
        let m = ex.recv().expect("a Result");
        assert_eq!((m.opcode, m.seqno), (Opcode::Result, 10 + i));
        assert!(m.payload.bytes().is_empty(), "a successful void result");
    }
    // Each overlaps the next: memory holds what was written last, in order.
    let mut expected = vec![0u8; at.value() as usize - base.value() as usize + sizes[2] / 2];
    let mut off = 0;
    for (i, &size) in sizes.iter().enumerate() {
        expected[off..off + size].copy_from_slice(&pattern(size, 10 + i as u8));
        off += size / 2;
    }
    assert_eq!(read_back(&mut ex, 20, base, expected.len()), expected);
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn large_writes_fail_as_small_ones_do_and_the_session_goes_on() {
    // The wire logs each failed call (LLVM 22's result cannot carry it).
    let mut ex = Executor::start_with(
        &executor_binary(own_profile()),
        &[("ORC_RT_LOG", "orc_executor::wire=warn")],
    );
    // Large enough that a refusal can come after the reader's buffer (64
    // KiB) was used up, while reading straight from the pipe.
    let len = 4 * STREAM_THRESHOLD;
    let base = reserve(&mut ex, 1, 2 * len);
    let write = ex.symbol(names::WRITE_BUFFERS);
    // The second half finalized read-only: writes into it are refused.
    let read_only = base + len;
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let content = pattern(len as usize, 7);
    let request = FinalizeRequest {
        segments: vec![SegmentRequest {
            group: AllocGroup::from_bits(1).unwrap(),
            addr: read_only,
            size: len,
            content: &content,
        }],
        actions: vec![],
    };
    let r = ex.call(
        2,
        ex.symbol(names::MEMORY_MANAGER_INITIALIZE),
        &args(&(mm, request)),
    );
    assert!(
        sps::from_bytes::<Result<ExecutorAddr, Error>>(&r)
            .unwrap()
            .is_ok()
    );

    // What a small (buffered) write that runs into read-only memory leaves
    // in the writable bytes before it.
    let small = pattern(32, 3);
    assert!(
        ex.call(3, write, &write_buffers(&[(read_only - 16, &small)]))
            .is_empty()
    );
    let small_landed = read_back(&mut ex, 4, read_only - 16, 16) == small[..16];

    let big = pattern(len as usize, 5);
    let half = len as usize / 2;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "into read-only memory",
            write_buffers(&[(read_only + 5, &big[..half])]),
        ),
        (
            "outside any reservation",
            write_buffers(&[(ExecutorAddr::new(0x10_000), &big)]),
        ),
        (
            "two buffers, one outside",
            write_buffers(&[(base, &small), (ExecutorAddr::new(0x10_000), &big)]),
        ),
        (
            "past the reservation's end",
            write_buffers(&[(read_only + 1, &big)]),
        ),
        // Last: the writable half before the read-only one gets written.
        (
            "from writable into read-only memory",
            write_buffers(&[(read_only - half as u64, &big)]),
        ),
    ];
    for (i, (what, payload)) in cases.iter().enumerate() {
        assert!(payload.len() as u64 >= STREAM_THRESHOLD, "{what}: streamed");
        let r = ex.call(10 + i as u64, write, payload);
        // LLVM 22's void result carries no error: a refusal is an empty
        // result, as for a small write.
        assert!(r.is_empty(), "{what}: {r:?}");
    }
    assert_eq!(
        read_back(&mut ex, 20, read_only, len as usize),
        content,
        "read-only memory is untouched"
    );
    let before = read_back(&mut ex, 21, base, len as usize);
    assert!(
        before[..small.len()].iter().all(|&b| b == 0),
        "targets are checked before any is written"
    );
    let big_landed = before[half..] == big[..half];
    assert_eq!(
        big_landed, small_landed,
        "the writable part of a refused write is treated alike, large or small"
    );
    if !big_landed {
        assert!(before[half..].iter().all(|&b| b == 0), "nothing written");
    }

    // The stream is still in step: a small and a large write both work.
    let writable = base + 100;
    assert!(
        ex.call(22, write, &write_buffers(&[(writable, &small)]))
            .is_empty()
    );
    assert_eq!(read_back(&mut ex, 23, writable, small.len()), small);
    assert!(
        ex.call(24, write, &write_buffers(&[(writable, &big[..half])]))
            .is_empty()
    );
    assert_eq!(read_back(&mut ex, 25, writable, half), big[..half]);
    // Two buffers (buffered, not streamed) still write both.
    let (a, b) = (pattern(half / 2, 8), pattern(half / 2, 9));
    let two = write_buffers(&[(base, &a), (base + half as u64, &b)]);
    assert!(ex.call(26, write, &two).is_empty());
    assert_eq!(read_back(&mut ex, 27, base, a.len()), a);
    assert_eq!(read_back(&mut ex, 28, base + half as u64, b.len()), b);
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
    // Every refused write failed in the wrapper, with its reason, the
    // large ones as the small one; nothing else failed.
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains(" failed: ")).collect();
    let seqnos: Vec<u64> = std::iter::once(3)
        .chain(10..10 + cases.len() as u64)
        .collect();
    assert_eq!(failed.len(), seqnos.len(), "{stderr}");
    for (line, seqno) in failed.iter().zip(seqnos) {
        assert!(
            line.contains(&format!("call seq={seqno} failed: ")),
            "{line}"
        );
    }
}

#[test]
fn a_streamed_payload_cut_short_ends_the_session_with_a_message() {
    let mut ex = Executor::start();
    let len = 1 << 20;
    let base = reserve(&mut ex, 1, len as u64);
    let write = ex.symbol(names::WRITE_BUFFERS);
    let payload = write_buffers(&[(base, &pattern(len, 4))]);
    let mut frame = Vec::new();
    orc_executor::wire::write_message(&mut frame, Opcode::CallWrapper, 2, write, &payload).unwrap();
    ex.send_raw(&frame[..frame.len() / 2]);
    let (status, stderr) = ex.finish();
    assert_exit(status, 1, &stderr);
    assert!(
        stderr.contains("Unexpected end-of-file") && stderr.contains("payload"),
        "{stderr}"
    );
}
