//! Golden vectors, both directions: the examples of spec 3, bytes LLVM 22's
//! executor put on the wire (recorded from a live session, see protocol 12), and
//! message sizes from the a_hello trace. One line per case; the edge cases
//! carry a comment.

use std::collections::BTreeMap;
use std::fmt::Debug;

use orc_rt::sps::memory::{AllocAction, AllocActionPair, AllocGroup, MemLifetime, MemProt};
use orc_rt::sps::{self, ExecutorSpan, SpsDecode, SpsEncode};
use orc_rt::{Error, ErrorKind, ExecutorAddr, ExecutorAddrRange, WrapperFunctionBuffer};

/// Encodes `value` and compares with `bytes`, then decodes `bytes` and
/// compares with `value`.
#[track_caller]
fn golden<'a, T>(value: &T, bytes: &'a [u8])
where
    T: SpsEncode + SpsDecode<'a> + PartialEq + Debug,
{
    assert_eq!(sps::to_vec(value), bytes, "encoding of {value:?}");
    assert_eq!(value.encoded_size(), bytes.len());
    assert_eq!(&sps::from_bytes::<T>(bytes).expect("decodes"), value);
}

/// `hex` with spaces and `|` separators allowed, for readable tables.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
        .collect()
}

fn addr(v: u64) -> ExecutorAddr {
    ExecutorAddr::new(v)
}

#[test]
fn scalars() {
    golden(&(), &[]);
    golden(&false, &[0]);
    golden(&true, &[1]);
    golden(&0xabu8, &[0xab]);
    golden(&-2i8, &[0xfe]);
    golden(&0x0102u16, &[2, 1]);
    golden(&-1i16, &[0xff, 0xff]);
    golden(&0x0102_0304u32, &[4, 3, 2, 1]);
    golden(&i32::MIN, &[0, 0, 0, 0x80]);
    golden(&0x0102_0304_0506_0708u64, &[8, 7, 6, 5, 4, 3, 2, 1]);
    golden(&-2i64, &hex("fe ff ff ff ff ff ff ff"));
    golden(&7usize, &hex("07 00 00 00 00 00 00 00")); // SPSSize is a u64
    golden(&addr(0x1000), &[0x00, 0x10, 0, 0, 0, 0, 0, 0]);
    // Start then *end*, not size.
    golden(
        &ExecutorAddrRange::new(addr(0x1000), addr(0x1010)),
        &hex("00 10 00 00 00 00 00 00 | 10 10 00 00 00 00 00 00"),
    );
}

#[test]
fn sequences_strings_options_maps() {
    golden(&"", &[0; 8]); // no NUL terminator, just the length
    golden(
        &String::from("foo"),
        &hex("03 00 00 00 00 00 00 00 | 66 6f 6f"),
    );
    golden(
        &b"\x00\xff".as_slice(),
        &hex("02 00 00 00 00 00 00 00 | 00 ff"),
    );
    golden(
        &vec![1u16, 2],
        &hex("02 00 00 00 00 00 00 00 | 01 00 | 02 00"),
    );
    golden(&[7u8, 8, 9], &hex("03 00 00 00 00 00 00 00 | 07 08 09"));
    golden(&Vec::<String>::new(), &[0; 8]);
    golden(&None::<u64>, &[0]);
    golden(&Some(7u8), &[1, 7]);
    golden(&Some(None::<u8>), &[1, 0]);
    // Maps are sequences of (key, value) tuples.
    golden(
        &BTreeMap::from([("a".to_string(), 1u8), ("bc".to_string(), 2)]),
        &hex(
            "02 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 61 | 01 | 02 00 00 00 00 00 00 00 62 63 | 02",
        ),
    );
    golden(
        &WrapperFunctionBuffer::from(vec![1u8, 2, 3]),
        &hex("03 00 00 00 00 00 00 00 | 01 02 03"),
    );
}

#[test]
fn spec_examples() {
    // SPSArgList<bool, int32_t, SPSString>(true, 42, "foo").
    golden(
        &(true, 42i32, "foo"),
        &hex("01 | 2a 00 00 00 | 03 00 00 00 00 00 00 00 | 66 6f 6f"),
    );
    // SPSExpected<uint32_t> failure "bad".
    golden(
        &Err::<u32, _>(Error::remote("bad")),
        &hex("00 | 03 00 00 00 00 00 00 00 | 62 61 64"),
    );
    // Opposite polarities: SPSError success is 00, SPSExpected success 01.
    golden(&Ok::<(), Error>(()), &[0]);
    golden(&Ok::<u32, Error>(5), &hex("01 | 05 00 00 00"));
    golden(
        &Err::<(), _>(Error::remote("x")),
        &hex("01 | 01 00 00 00 00 00 00 00 | 78"),
    );
}

#[test]
fn errors_lose_their_kind_on_the_wire() {
    let bytes = sps::to_vec(&Err::<(), _>(Error::new(ErrorKind::NotFound, "no sym")));
    let back: Result<(), Error> = sps::from_bytes(&bytes).expect("decodes");
    let err = back.expect_err("failure");
    assert_eq!((err.kind(), err.message()), (ErrorKind::Remote, "no sym"));
}

#[test]
fn llvm22_executor_results() {
    // probe_llvm22.txt, reserve_ok: Expected<ExecutorAddr> success.
    golden(
        &Ok::<_, Error>(addr(0x7fd5_835e_2000)),
        &hex("0100205e83d57f0000"),
    );
    // reserve_huge: Expected failure with the mmap error.
    golden(
        &Err::<ExecutorAddr, _>(Error::remote("Cannot allocate memory")),
        &hex("00160000000000000043616e6e6f7420616c6c6f63617465206d656d6f7279"),
    );
    // release_unknown: SPSError failure (the probe prints 48 of its 69 bytes).
    let msg = "In release, 0x1000 is not part of any reserved address range";
    let bytes = sps::to_vec(&Err::<(), _>(Error::remote(msg)));
    assert_eq!(bytes.len(), 69);
    assert_eq!(
        bytes[..48],
        hex(
            "013c00000000000000496e2072656c656173652c20307831303030206973206e6f742070617274206f6620616e792072"
        )
    );
    // resolve_required_missing: Expected<sequence<optional<ExecutorSymbolDef>>>,
    // ExecutorSymbolDef = (addr, (flags, target flags)); missing required = none.
    type Lookup = Result<Vec<Option<(ExecutorAddr, (u8, u8))>>, Error>;
    golden::<Lookup>(
        &Ok(vec![None, Some((addr(0x7ff9_e887_05b0), (0x10, 0)))]),
        &hex("01 0200000000000000 00 01 b00587e8f97f0000 10 00"),
    );
}

#[test]
fn alloc_groups_match_llvm22_remote_alloc_group() {
    // Bit 0 read, 1 write, 2 exec, 3 finalize lifetime (the protections the
    // traces show: R--, RW-, R-X).
    let g = |p: MemProt, l| AllocGroup::new(p, l);
    golden(&g(MemProt::READ, MemLifetime::Standard), &[0x01]);
    golden(
        &g(MemProt::READ | MemProt::WRITE, MemLifetime::Standard),
        &[0x03],
    );
    golden(
        &g(MemProt::READ | MemProt::EXEC, MemLifetime::Standard),
        &[0x05],
    );
    golden(&g(MemProt::ALL, MemLifetime::Finalize), &[0x0f]);
    golden(&g(MemProt::NONE, MemLifetime::Finalize), &[0x08]);
    assert_eq!(
        g(MemProt::READ | MemProt::EXEC, MemLifetime::Standard).to_string(),
        "(R-X, standard)"
    );
    golden(&MemProt::WRITE, &[0x02]);
    golden(&MemLifetime::Finalize, &[0x01]);
}

#[test]
fn alloc_actions_from_the_a_hello_trace() {
    // initialize seq 4: finalize = llvm_orc_registerEHFrameAllocAction with
    // the 16-byte range 0x7f07a06f7018..0x7f07a06f704c, dealloc = deregister.
    let range = ExecutorAddrRange::new(addr(0x7f07_a06f_7018), addr(0x7f07_a06f_704c));
    let args = sps::to_buffer(&range).expect("encodes");
    let pair = AllocActionPair {
        finalize: AllocAction::new(addr(0x55d2_566a_9c60), args.clone()),
        dealloc: AllocAction::new(addr(0x55d2_566a_9d20), args),
    };
    golden(
        &pair,
        &hex(
            "609c6a56d2550000 1000000000000000 18706fa0077f0000 4c706fa0077f0000 \
             209d6a56d2550000 1000000000000000 18706fa0077f0000 4c706fa0077f0000",
        ),
    );
    // An absent action is address 0 with no argument bytes.
    golden(&AllocAction::none(), &[0; 16]);
    assert!(AllocAction::none().is_none());

    // The whole initialize argument buffer was 252 bytes: (instance,
    // FinalizeRequest) with two segments of 88 and 26 content bytes.
    type Segment = (AllocGroup, ExecutorAddr, u64, Vec<u8>);
    let request: (ExecutorAddr, (Vec<Segment>, Vec<AllocActionPair>)) = (
        addr(0x55d2_5792_0c10),
        (
            vec![
                (
                    MemProt::READ.into(),
                    addr(0x7f07_a06f_7000),
                    0x1000,
                    vec![0; 88],
                ),
                (
                    (MemProt::READ | MemProt::EXEC).into(),
                    addr(0x7f07_a06f_8000),
                    0x1000,
                    vec![0; 26],
                ),
            ],
            vec![pair],
        ),
    );
    assert_eq!(sps::to_vec(&request).len(), 252);
}

#[test]
fn typed_spans() {
    let span = ExecutorSpan::<u32>::from_range(ExecutorAddrRange::new(addr(0x1000), addr(0x1010)))
        .expect("valid");
    assert_eq!((span.start(), span.len()), (addr(0x1000), 4));
    golden(
        &span,
        &hex("00 10 00 00 00 00 00 00 | 10 10 00 00 00 00 00 00"),
    );
    // A sequence of them is SPSSequence<SPSExecutorAddrRange>.
    golden(
        &vec![span],
        &hex("01 00 00 00 00 00 00 00 | 00 10 00 00 00 00 00 00 | 10 10 00 00 00 00 00 00"),
    );
    let local = [1u64, 2, 3];
    let span = ExecutorSpan::from_slice(&local);
    assert_eq!(span.as_ptr(), local.as_ptr());
    assert_eq!(span.range().size(), 24);
}

#[test]
fn setup_message_size_matches_the_a_hello_trace() {
    // Setup = (triple, page size, bootstrap map, bootstrap symbols); LLVM
    // 22's executor sent 2201 payload bytes with these 34 symbols.
    const NAMES: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Deinitialize __llvm_orc_ExecutorSharedMemoryMapperService_Initialize __llvm_orc_ExecutorSharedMemoryMapperService_Instance __llvm_orc_ExecutorSharedMemoryMapperService_Release __llvm_orc_ExecutorSharedMemoryMapperService_Reserve __llvm_orc_SimpleExecutorDylibManager_Instance __llvm_orc_SimpleExecutorDylibManager_open_wrapper __llvm_orc_SimpleExecutorDylibManager_resolve_wrapper __llvm_orc_SimpleExecutorMemoryManager_Instance __llvm_orc_SimpleExecutorMemoryManager_deinitialize_wrapper __llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper __llvm_orc_SimpleExecutorMemoryManager_release_wrapper __llvm_orc_SimpleExecutorMemoryManager_reserve_wrapper __llvm_orc_SimpleRemoteEPC_dispatch_ctx __llvm_orc_SimpleRemoteEPC_dispatch_fn __llvm_orc_bootstrap_mem_read_buffers_wrapper __llvm_orc_bootstrap_mem_read_pointers_wrapper __llvm_orc_bootstrap_mem_read_strings_wrapper __llvm_orc_bootstrap_mem_read_uint16s_wrapper __llvm_orc_bootstrap_mem_read_uint32s_wrapper __llvm_orc_bootstrap_mem_read_uint64s_wrapper __llvm_orc_bootstrap_mem_read_uint8s_wrapper __llvm_orc_bootstrap_mem_write_buffers_wrapper __llvm_orc_bootstrap_mem_write_pointers_wrapper __llvm_orc_bootstrap_mem_write_uint16s_wrapper __llvm_orc_bootstrap_mem_write_uint32s_wrapper __llvm_orc_bootstrap_mem_write_uint64s_wrapper __llvm_orc_bootstrap_mem_write_uint8s_wrapper __llvm_orc_bootstrap_run_as_int_function_wrapper __llvm_orc_bootstrap_run_as_main_wrapper __llvm_orc_bootstrap_run_as_void_function_wrapper llvm_orc_deregisterEHFrameAllocAction llvm_orc_registerEHFrameAllocAction llvm_orc_registerJITLoaderGDBAllocAction";
    let symbols: BTreeMap<&str, ExecutorAddr> = NAMES
        .split(' ')
        .enumerate()
        .map(|(i, n)| (n, addr(0x55d2_566a_0000 + i as u64 * 0x60)))
        .collect();
    assert_eq!(symbols.len(), 34);
    let setup = (
        "x86_64-pc-linux-gnu",
        4096u64,
        BTreeMap::<&str, &[u8]>::new(),
        symbols.clone(),
    );
    let bytes = sps::to_vec(&setup);
    assert_eq!(bytes.len(), 2201);
    type Setup<'a> = (
        &'a str,
        u64,
        BTreeMap<&'a str, &'a [u8]>,
        BTreeMap<&'a str, ExecutorAddr>,
    );
    let back: Setup<'_> = sps::from_bytes(&bytes).expect("decodes");
    assert_eq!(back.3, symbols);
}
