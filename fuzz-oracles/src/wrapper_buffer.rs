//! The `wrapper_buffer` oracle: run a sequence of operations on a few
//! `WrapperFunctionBuffer`s, through the Rust API and the C API, and after
//! every step compare each buffer with a model (empty, bytes, or an error
//! message).

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use arbitrary::Arbitrary;

use orc_rt::error::{Error, ErrorKind};
use orc_rt::ffi::buffer as c;
use orc_rt::sps;
use orc_rt::wrapper::{
    BufferView, INLINE_CAPACITY, WrapperFunctionBuffer, orc_rt_WrapperFunctionBuffer,
};

/// Most buffers alive at once; a new one beyond this evicts the oldest.
const MAX_SLOTS: usize = 8;
/// Largest size an `Allocate` asks for (keeps an iteration cheap).
const MAX_ALLOCATION: usize = 4096;

/// One step. `slot` operands pick an existing buffer (modulo the count);
/// with no buffers they do nothing.
#[derive(Debug, Clone, Arbitrary)]
pub enum BufferOp {
    /// `WrapperFunctionBuffer::allocate(size % 4097)`: zero bytes.
    Allocate { size: u16 },
    /// `copy_from(bytes)`.
    CopyFrom { bytes: Vec<u8> },
    /// `copy_from_c_str` of `bytes` cut at its first NUL.
    CopyFromCStr { bytes: Vec<u8> },
    /// `out_of_band_error(message)` (cut at a NUL).
    OutOfBandError { message: String },
    /// `from_result(Err(error))`, or `from_error` when `via_result` is false.
    FromError {
        kind: u8,
        message: String,
        via_result: bool,
    },
    /// A buffer built field by field the way C code does (malloc'd
    /// storage), adopted with `from_raw`. `error` makes it an out-of-band
    /// error with `bytes` (cut at a NUL) as its message.
    FromCParts { bytes: Vec<u8>, error: bool },
    /// Writes `byte` at `offset % size` through `as_bytes_mut`.
    Write { slot: u8, offset: u16, byte: u8 },
    /// `into_raw` then `from_raw`, checking the raw fields on the way.
    RawRoundTrip { slot: u8 },
    /// `into_legacy` then `from_legacy`, checking the fields on the way.
    LegacyRoundTrip { slot: u8 },
    /// `clone`, kept as a new buffer.
    Clone { slot: u8 },
    /// `take`: the slot becomes empty, the old contents a new buffer.
    Take { slot: u8 },
    /// Drops the buffer.
    Drop { slot: u8 },
    /// `into_result`, and back with `from_result`.
    IntoResult { slot: u8 },
    /// Encodes as SPSWrapperFunctionBuffer (alone and inside a tuple) and
    /// decodes the copy back as a new buffer.
    SpsRoundTrip { slot: u8, tag: u32 },
    /// `orc_rt_WrapperFunctionBufferAllocate(size % 4097)`.
    CAllocate { size: u16 },
    /// `orc_rt_CreateWrapperFunctionBufferFromRange` (`null` passes NULL
    /// with the length, which must give an error unless the length is 0).
    CFromRange { bytes: Vec<u8>, null: bool },
    /// `orc_rt_CreateWrapperFunctionBufferFromString` (NUL-cut bytes).
    CFromString { bytes: Vec<u8> },
    /// `orc_rt_CreateWrapperFunctionBufferFromOutOfBandError` (NUL-cut bytes).
    COutOfBandError { bytes: Vec<u8> },
    /// Reads the buffer through every C accessor.
    CRead { slot: u8 },
    /// `orc_rt_WrapperFunctionBufferDispose`, twice: the slot becomes empty.
    CDispose { slot: u8 },
}

/// What a buffer should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Model {
    Empty,
    Bytes(Vec<u8>),
    /// An out-of-band error; the message has no NUL.
    Error(Vec<u8>),
}

impl Model {
    fn bytes(bytes: &[u8]) -> Model {
        if bytes.is_empty() {
            Model::Empty
        } else {
            Model::Bytes(bytes.to_vec())
        }
    }
}

/// The bytes before the first NUL.
fn cut_at_nul(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
}

fn nul_free(bytes: &[u8]) -> CString {
    CString::new(cut_at_nul(bytes)).expect("no NUL before the cut")
}

/// Runs `ops` and checks every buffer against the model after each one.
pub fn wrapper_buffer(ops: &[BufferOp]) {
    let mut state = State::default();
    for op in ops {
        state.apply(op);
        state.check();
    }
}

/// Decodes `data` into operations exactly as the `wrapper_buffer` fuzz
/// target's `fuzz_target!(|ops: Vec<BufferOp>| ...)` does, then runs them;
/// used to replay corpus files. Inputs libFuzzer would skip are skipped.
pub fn wrapper_buffer_bytes(data: &[u8]) {
    if let Some(ops) = wrapper_buffer_ops(data) {
        wrapper_buffer(&ops);
    }
}

/// The operations a fuzz input stands for, or `None` where libfuzzer-sys
/// would skip the input.
pub fn wrapper_buffer_ops(data: &[u8]) -> Option<Vec<BufferOp>> {
    crate::fuzz_target_input(data)
}

#[derive(Default)]
struct State {
    slots: Vec<(WrapperFunctionBuffer, Model)>,
}

impl State {
    fn push(&mut self, buf: WrapperFunctionBuffer, model: Model) {
        if self.slots.len() == MAX_SLOTS {
            self.slots.remove(0);
        }
        self.slots.push((buf, model));
    }

    fn index(&self, slot: u8) -> Option<usize> {
        (!self.slots.is_empty()).then(|| usize::from(slot) % self.slots.len())
    }

    fn apply(&mut self, op: &BufferOp) {
        match op {
            BufferOp::Allocate { size } => {
                let size = usize::from(*size) % (MAX_ALLOCATION + 1);
                self.push(
                    WrapperFunctionBuffer::allocate(size),
                    Model::bytes(&vec![0; size]),
                );
            }
            BufferOp::CopyFrom { bytes } => {
                self.push(WrapperFunctionBuffer::copy_from(bytes), Model::bytes(bytes));
            }
            BufferOp::CopyFromCStr { bytes } => {
                let s = nul_free(bytes);
                let model = Model::bytes(s.as_bytes_with_nul());
                self.push(WrapperFunctionBuffer::copy_from_c_str(&s), model);
            }
            BufferOp::OutOfBandError { message } => {
                let model = Model::Error(cut_at_nul(message.as_bytes()).to_vec());
                self.push(WrapperFunctionBuffer::out_of_band_error(message), model);
            }
            BufferOp::FromError {
                kind,
                message,
                via_result,
            } => {
                let kinds = [
                    ErrorKind::Message,
                    ErrorKind::Remote,
                    ErrorKind::Decode,
                    ErrorKind::Panic,
                ];
                let err = Error::new(kinds[usize::from(*kind) % kinds.len()], message.clone());
                let buf = if *via_result {
                    WrapperFunctionBuffer::from_result(Err(err))
                } else {
                    WrapperFunctionBuffer::from_error(&err)
                };
                self.push(buf, Model::Error(cut_at_nul(message.as_bytes()).to_vec()));
            }
            BufferOp::FromCParts { bytes, error } => {
                let (buf, model) = from_c_parts(bytes, *error);
                self.push(buf, model);
            }
            BufferOp::Write { slot, offset, byte } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                match (buf.as_bytes_mut(), model) {
                    (Some(bytes), Model::Bytes(expected)) => {
                        let at = usize::from(*offset) % bytes.len();
                        bytes[at] = *byte;
                        expected[at] = *byte;
                    }
                    (Some(bytes), Model::Empty) => assert!(bytes.is_empty()),
                    (None, Model::Error(_)) => {}
                    (bytes, model) => panic!("as_bytes_mut gave {bytes:?} for {model:?}"),
                }
            }
            BufferOp::RawRoundTrip { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                let raw = std::mem::take(buf).into_raw();
                check_raw(&raw, model);
                // SAFETY: `raw` came from `into_raw` and is adopted once.
                *buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
            }
            BufferOp::LegacyRoundTrip { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                let legacy = std::mem::take(buf).into_legacy();
                let as_raw = orc_rt_WrapperFunctionBuffer {
                    data: legacy.data,
                    size: legacy.size,
                };
                check_raw(&as_raw, model);
                // SAFETY: `legacy` came from `into_legacy` and is adopted once.
                *buf = unsafe { WrapperFunctionBuffer::from_legacy(legacy) };
            }
            BufferOp::Clone { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &self.slots[i];
                let (copy, model) = (buf.clone(), model.clone());
                self.push(copy, model);
            }
            BufferOp::Take { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                let taken = buf.take();
                let taken_model = std::mem::replace(model, Model::Empty);
                self.push(taken, taken_model);
            }
            BufferOp::Drop { slot } => {
                let Some(i) = self.index(*slot) else { return };
                drop(self.slots.remove(i));
            }
            BufferOp::IntoResult { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                match (std::mem::take(buf).into_result(), &*model) {
                    (Err(e), Model::Error(message)) => {
                        assert_eq!(e.kind(), ErrorKind::Remote);
                        assert_eq!(e.message(), String::from_utf8_lossy(message));
                        // Back through from_result: the message is the
                        // error's (now UTF-8) message.
                        *buf = WrapperFunctionBuffer::from_result(Err(e));
                        *model = Model::Error(
                            String::from_utf8_lossy(message).into_owned().into_bytes(),
                        );
                    }
                    (Ok(b), Model::Empty | Model::Bytes(_)) => {
                        *buf = WrapperFunctionBuffer::from_result(Ok(b));
                    }
                    (result, model) => panic!("into_result gave {result:?} for {model:?}"),
                }
            }
            BufferOp::SpsRoundTrip { slot, tag } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &self.slots[i];
                // An out-of-band error cannot be carried by SPS: it encodes
                // as no bytes.
                let payload: &[u8] = match model {
                    Model::Bytes(b) => b,
                    Model::Empty | Model::Error(_) => &[],
                };
                let mut expected = (payload.len() as u64).to_le_bytes().to_vec();
                expected.extend_from_slice(payload);
                assert_eq!(sps::to_vec(buf), expected);
                let encoded = sps::to_buffer(buf).expect("a buffer encodes");
                assert_eq!(encoded.bytes(), expected);
                let decoded: WrapperFunctionBuffer =
                    sps::from_bytes(encoded.bytes()).expect("decodes back");
                assert_eq!(decoded.bytes(), payload);

                let tuple = sps::to_vec(&(*tag, buf, Some(buf)));
                let (t, a, b): (u32, WrapperFunctionBuffer, Option<WrapperFunctionBuffer>) =
                    sps::from_bytes(&tuple).expect("the tuple decodes back");
                assert_eq!(t, *tag);
                assert_eq!(Some(&a), b.as_ref());
                assert_eq!(a.bytes(), payload);
                let model = Model::bytes(payload);
                self.push(decoded, model);
            }
            BufferOp::CAllocate { size } => {
                let size = usize::from(*size) % (MAX_ALLOCATION + 1);
                let raw = c::orc_rt_WrapperFunctionBufferAllocate(size);
                // SAFETY: the C API returns a valid, owned buffer.
                let buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
                self.push(buf, Model::bytes(&vec![0; size]));
            }
            BufferOp::CFromRange { bytes, null } => {
                let data = if *null {
                    ptr::null()
                } else {
                    bytes.as_ptr().cast::<c_char>()
                };
                // SAFETY: `data` is null or points to `bytes.len()` bytes.
                let raw =
                    unsafe { c::orc_rt_CreateWrapperFunctionBufferFromRange(data, bytes.len()) };
                // SAFETY: the C API returns a valid, owned buffer.
                let buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
                let model = if *null && !bytes.is_empty() {
                    let Some(message) = buf.error_message() else {
                        panic!("NULL with {} bytes gave {buf:?}", bytes.len())
                    };
                    Model::Error(message.to_bytes().to_vec())
                } else {
                    Model::bytes(bytes)
                };
                self.push(buf, model);
            }
            BufferOp::CFromString { bytes } => {
                let s = nul_free(bytes);
                // SAFETY: `s` is NUL-terminated.
                let raw = unsafe { c::orc_rt_CreateWrapperFunctionBufferFromString(s.as_ptr()) };
                // SAFETY: the C API returns a valid, owned buffer.
                let buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
                self.push(buf, Model::bytes(s.as_bytes_with_nul()));
            }
            BufferOp::COutOfBandError { bytes } => {
                let s = nul_free(bytes);
                // SAFETY: `s` is NUL-terminated.
                let raw =
                    unsafe { c::orc_rt_CreateWrapperFunctionBufferFromOutOfBandError(s.as_ptr()) };
                // SAFETY: the C API returns a valid, owned buffer.
                let buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
                self.push(buf, Model::Error(s.into_bytes()));
            }
            BufferOp::CRead { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                let mut raw = std::mem::take(buf).into_raw();
                check_c_accessors(&mut raw, model);
                // SAFETY: `raw` came from `into_raw`; the accessors only read.
                *buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
            }
            BufferOp::CDispose { slot } => {
                let Some(i) = self.index(*slot) else { return };
                let (buf, model) = &mut self.slots[i];
                let mut raw = std::mem::take(buf).into_raw();
                // SAFETY: `raw` is a valid owned buffer; Dispose leaves the
                // empty buffer, which a second Dispose must accept.
                unsafe {
                    c::orc_rt_WrapperFunctionBufferDispose(&mut raw);
                    c::orc_rt_WrapperFunctionBufferDispose(&mut raw);
                }
                *model = Model::Empty;
                check_raw(&raw, model);
                // SAFETY: the empty buffer owns nothing.
                *buf = unsafe { WrapperFunctionBuffer::from_raw(raw) };
            }
        }
    }

    /// Every buffer agrees with its model through every reading API.
    fn check(&self) {
        for (buf, model) in &self.slots {
            check_buffer(buf, model);
        }
    }
}

/// A buffer made the way C code makes one: fields set by hand, storage
/// from `malloc`.
fn from_c_parts(bytes: &[u8], error: bool) -> (WrapperFunctionBuffer, Model) {
    let mut raw = orc_rt_WrapperFunctionBuffer::EMPTY;
    let model = if error {
        let message = cut_at_nul(bytes);
        raw.data.value_ptr = c_malloc_copy(message, true);
        Model::Error(message.to_vec())
    } else if bytes.len() > INLINE_CAPACITY {
        raw.size = bytes.len();
        raw.data.value_ptr = c_malloc_copy(bytes, false);
        Model::Bytes(bytes.to_vec())
    } else {
        raw.size = bytes.len();
        let mut inline = [0 as c_char; INLINE_CAPACITY];
        for (dst, &src) in inline.iter_mut().zip(bytes) {
            *dst = src as c_char;
        }
        raw.data.value = inline;
        Model::bytes(bytes)
    };
    // SAFETY: one of the four valid states, storage from malloc, owned once.
    (unsafe { WrapperFunctionBuffer::from_raw(raw) }, model)
}

/// A `malloc`'d copy of `bytes`, NUL-terminated if `nul`.
fn c_malloc_copy(bytes: &[u8], nul: bool) -> *mut c_char {
    let len = bytes.len() + usize::from(nul);
    // SAFETY: malloc with a non-zero size (an error message has its NUL, a
    // large buffer more than 8 bytes).
    let p = unsafe { libc::malloc(len) }.cast::<u8>();
    assert!(!p.is_null(), "malloc({len})");
    // SAFETY: `p` holds `len` bytes; we copy `bytes` and maybe write the NUL.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        if nul {
            *p.add(bytes.len()) = 0;
        }
    }
    p.cast()
}

/// The raw fields of a buffer in the state `model` describes.
fn check_raw(raw: &orc_rt_WrapperFunctionBuffer, model: &Model) {
    // SAFETY: the union is plain data; reading either field reads
    // initialized bytes (every constructor writes the whole word).
    let (value_ptr, inline) = unsafe { (raw.data.value_ptr, raw.data.value) };
    match model {
        Model::Empty => assert!(raw.size == 0 && value_ptr.is_null()),
        Model::Error(message) => {
            assert!(raw.size == 0 && !value_ptr.is_null());
            // SAFETY: an error's pointer is its NUL-terminated message.
            assert_eq!(unsafe { CStr::from_ptr(value_ptr) }.to_bytes(), message);
        }
        Model::Bytes(bytes) if bytes.len() <= INLINE_CAPACITY => {
            assert_eq!(raw.size, bytes.len());
            let inline: Vec<u8> = inline[..bytes.len()].iter().map(|&b| b as u8).collect();
            assert_eq!(&inline, bytes);
        }
        Model::Bytes(bytes) => {
            assert_eq!(raw.size, bytes.len());
            assert!(!value_ptr.is_null());
            // SAFETY: a large buffer's pointer holds `size` bytes.
            let heap = unsafe { std::slice::from_raw_parts(value_ptr.cast::<u8>(), raw.size) };
            assert_eq!(heap, bytes);
        }
    }
}

/// The C accessors on a buffer in the state `model` describes.
fn check_c_accessors(raw: &mut orc_rt_WrapperFunctionBuffer, model: &Model) {
    let p: *mut orc_rt_WrapperFunctionBuffer = raw;
    // SAFETY: `p` points to a valid buffer for the duration of these calls.
    unsafe {
        let size = c::orc_rt_WrapperFunctionBufferSize(p);
        let empty = c::orc_rt_WrapperFunctionBufferEmpty(p);
        let data = c::orc_rt_WrapperFunctionBufferData(p);
        assert_eq!(
            data.cast_const(),
            c::orc_rt_WrapperFunctionBufferConstData(p)
        );
        let oob = c::orc_rt_WrapperFunctionBufferGetOutOfBandError(p);
        match model {
            Model::Error(message) => {
                assert_eq!((size, empty), (0, 0));
                assert!(data.is_null());
                assert!(!oob.is_null());
                assert_eq!(CStr::from_ptr(oob).to_bytes(), message);
            }
            Model::Empty => {
                assert_eq!((size, empty), (0, 1));
                assert!(!data.is_null() && oob.is_null());
            }
            Model::Bytes(bytes) => {
                assert_eq!((size, empty), (bytes.len(), 0));
                assert!(!data.is_null() && oob.is_null());
                let inside = data.cast::<u8>() >= p.cast::<u8>()
                    && data.cast::<u8>()
                        < p.cast::<u8>()
                            .add(size_of::<orc_rt_WrapperFunctionBuffer>());
                assert_eq!(inside, bytes.len() <= INLINE_CAPACITY);
                assert_eq!(std::slice::from_raw_parts(data.cast::<u8>(), size), bytes);
            }
        }
    }
}

/// Every reading API of `buf` agrees with `model`.
fn check_buffer(buf: &WrapperFunctionBuffer, model: &Model) {
    match model {
        Model::Empty => {
            assert_eq!(buf.view(), BufferView::Empty);
            assert!(buf.is_empty() && !buf.is_error());
            assert_eq!(buf.size(), 0);
            assert_eq!(buf.as_bytes(), Some(&[][..]));
            assert_eq!(buf.error_message(), None);
        }
        Model::Bytes(bytes) => {
            assert_eq!(buf.view(), BufferView::Bytes(bytes));
            assert!(!buf.is_empty() && !buf.is_error());
            assert_eq!(buf.size(), bytes.len());
            assert_eq!(buf.as_bytes(), Some(&bytes[..]));
            assert_eq!(buf.bytes(), &bytes[..]);
            assert_eq!(buf.error_message(), None);
        }
        Model::Error(message) => {
            let Some(m) = buf.error_message() else {
                panic!("{buf:?} should be the error {message:?}")
            };
            assert_eq!(m.to_bytes(), message);
            assert_eq!(buf.view(), BufferView::Error(m));
            assert!(!buf.is_empty() && buf.is_error());
            assert_eq!(buf.size(), 0);
            assert_eq!(buf.as_bytes(), None);
            assert_eq!(buf.bytes(), &[][..]);
        }
    }
    // A clone is an equal, independent buffer.
    let copy = buf.clone();
    assert_eq!(&copy, buf);
    check_view_matches(&copy, model);
    assert!(!format!("{buf:?}").is_empty());
}

/// `buf` holds what `model` says (views only, no further clones).
fn check_view_matches(buf: &WrapperFunctionBuffer, model: &Model) {
    match (buf.view(), model) {
        (BufferView::Empty, Model::Empty) => {}
        (BufferView::Bytes(b), Model::Bytes(expected)) => assert_eq!(b, &expected[..]),
        (BufferView::Error(m), Model::Error(expected)) => assert_eq!(m.to_bytes(), &expected[..]),
        (view, model) => panic!("{view:?} is not {model:?}"),
    }
}
