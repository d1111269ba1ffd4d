//! No length field makes the decoder allocate more than the bytes it was
//! given: a counting global allocator records the largest request made by
//! the measuring thread while inputs claim huge lengths.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use orc_rt::sps::{self, DecodeError, SpsDecode};
use orc_rt::{Error, ExecutorAddr, WrapperFunctionBuffer};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while this thread decodes: the test harness's own allocations on
    /// other threads do not count. Const-initialized, so reading it never
    /// allocates.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn record(size: usize) {
    if MEASURING.try_with(Cell::get).unwrap_or(false) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

/// The tests of this binary measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Decodes `input` as `T`, expecting a length error, and returns the largest
/// allocation made while doing so.
#[track_caller]
fn largest_allocation<'a, T: SpsDecode<'a>>(input: &'a [u8]) -> usize {
    let (result, largest) = measure(|| sps::from_bytes::<T>(input));
    assert!(
        matches!(result, Err(DecodeError::LengthExceedsInput { .. })),
        "{} did not fail with a length error",
        std::any::type_name::<T>()
    );
    largest
}

/// Runs `f`, returning its result and the largest allocation it made.
fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    MEASURING.with(|m| m.set(true));
    let result = f();
    MEASURING.with(|m| m.set(false));
    (result, LARGEST.load(Ordering::Relaxed))
}

fn claim(count: u64, payload: usize) -> Vec<u8> {
    let mut v = count.to_le_bytes().to_vec();
    v.resize(8 + payload, 0);
    v
}

#[test]
fn huge_claims_allocate_at_most_the_input() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (count, payload) in [(1u64 << 63, 0), (u64::MAX, 0), (1 << 40, 64), (1000, 999)] {
        let input = claim(count, payload);
        let bound = input.len();
        let cases = [
            ("Vec<u8>", largest_allocation::<Vec<u8>>(&input)),
            ("String", largest_allocation::<String>(&input)),
            ("Vec<u64>", largest_allocation::<Vec<u64>>(&input)),
            ("Vec<String>", largest_allocation::<Vec<String>>(&input)),
            ("Vec<Vec<u8>>", largest_allocation::<Vec<Vec<u8>>>(&input)),
            (
                "Vec<(ExecutorAddr, u64, String)>",
                largest_allocation::<Vec<(ExecutorAddr, u64, String)>>(&input),
            ),
            (
                "HashMap<String, u64>",
                largest_allocation::<HashMap<String, u64>>(&input),
            ),
            (
                "BTreeMap<u64, u64>",
                largest_allocation::<BTreeMap<u64, u64>>(&input),
            ),
            (
                "WrapperFunctionBuffer",
                largest_allocation::<WrapperFunctionBuffer>(&input),
            ),
            ("Result<Vec<u32>, Error>", {
                let mut flagged = vec![1u8];
                flagged.extend_from_slice(&input);
                largest_allocation::<Result<Vec<u32>, Error>>(&flagged)
            }),
        ];
        for (ty, largest) in cases {
            assert!(
                largest <= bound,
                "{ty}: claimed {count} with {payload} bytes, allocated {largest} > {bound}"
            );
        }
    }
}

#[test]
fn many_elements_that_are_truncated_late_stay_bounded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 500 claimed (u64, String) pairs, each at least 16 bytes, with 8000
    // bytes present: the count passes the up-front check, and the decode
    // fails only at the last element, whose name claims bytes that are not
    // there.
    let mut input = 500u64.to_le_bytes().to_vec();
    for i in 0..500u64 {
        input.extend_from_slice(&i.to_le_bytes());
        input.extend_from_slice(&u64::from(i == 499).to_le_bytes());
    }
    let (result, largest) = measure(|| sps::from_bytes::<Vec<(u64, String)>>(&input));
    assert_eq!(
        result,
        Err(DecodeError::LengthExceedsInput {
            claimed: 1,
            remaining: 0
        })
    );
    // The element type is 32 bytes for 16 encoded: the up-front reservation
    // is capped at the input size; growth beyond it comes only from
    // elements that were really there (499 of them).
    assert!(largest <= 499 * 32 * 2, "allocated {largest}");
}

#[test]
fn reservation_is_capped_by_the_input() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 100 strings claimed in 800 bytes passes the count check (each string
    // takes at least 8 bytes), but a String is 24 bytes in memory: reserving
    // the claimed count would take 2400 bytes for an 808-byte input. The
    // first string then claims more bytes than remain.
    let mut input = 100u64.to_le_bytes().to_vec();
    input.extend_from_slice(&1000u64.to_le_bytes());
    input.resize(8 + 800, 0);
    for (ty, largest) in [
        ("Vec<String>", largest_allocation::<Vec<String>>(&input)),
        (
            "HashMap<String, ()>",
            largest_allocation::<HashMap<String, ()>>(&input),
        ),
    ] {
        assert!(
            largest <= input.len(),
            "{ty}: allocated {largest} > {}",
            input.len()
        );
    }
}
