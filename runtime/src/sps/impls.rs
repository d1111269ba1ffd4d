//! SPS encodings of std types and of the runtime's address, error and
//! buffer types.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use super::__private::fixed_sum;
use super::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};
use crate::addr::{ExecutorAddr, ExecutorAddrRange};
use crate::error::Error;
use crate::wrapper::WrapperFunctionBuffer;

/// SPSEmpty: no bytes.
impl SpsEncode for () {
    const IS_UNIT: bool = true;
    const FIXED_SIZE: Option<usize> = Some(0);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        0
    }
    #[inline(always)]
    fn encode(&self, _: &mut Writer<'_>) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl SpsDecode<'_> for () {
    const MIN_ENCODED_SIZE: usize = 0;
    const FIXED_SIZE: Option<usize> = Some(0);
    const IS_UNIT: bool = true;
    #[inline(always)]
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl SpsEncode for bool {
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([*self as u8])
    }
}

impl SpsDecode<'_> for bool {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.take_byte()? {
            0 => Ok(false),
            1 => Ok(true),
            // Upstream reads any byte as a C++ bool (undefined behaviour for
            // values other than 0 and 1); we reject them.
            other => Err(bad_bool(other)),
        }
    }
}

#[cold]
#[inline(never)]
fn bad_bool(byte: u8) -> DecodeError {
    DecodeError::BadBool(byte)
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl SpsEncode for $t {
            const FIXED_SIZE: Option<usize> = Some(size_of::<$t>());
            #[inline(always)]
            fn encoded_size(&self) -> usize {
                size_of::<$t>()
            }
            #[inline(always)]
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.put_array(self.to_le_bytes())
            }
        }

        impl SpsDecode<'_> for $t {
            const MIN_ENCODED_SIZE: usize = size_of::<$t>();
            const FIXED_SIZE: Option<usize> = Some(size_of::<$t>());
            #[inline(always)]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(r.take_array()?))
            }
        }
    )*};
}
integer!(i16, i32, i64, u16, u32, u64);

// u8 (SPS `char` and `uint8_t`) is written by hand: sequences of it take the
// one-copy fast path in both directions.
impl SpsEncode for u8 {
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([*self])
    }
    #[inline(always)]
    fn encode_slice(items: &[u8], w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put(items)
    }
    #[inline(always)]
    fn slice_encoded_size(items: &[u8]) -> usize {
        items.len()
    }
}

impl SpsDecode<'_> for u8 {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.take_byte()
    }
    #[inline(always)]
    fn decode_vec(r: &mut Reader<'_>, count: usize) -> Result<Vec<u8>, DecodeError> {
        Ok(r.take(count)?.to_vec())
    }
}

// i8 (SPS `int8_t`, and C `char` where it is signed) gets the same fast path.
impl SpsEncode for i8 {
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array(self.to_le_bytes())
    }
    #[inline(always)]
    fn encode_slice(items: &[i8], w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let out = w.claim(items.len())?;
        for (dst, src) in out.iter_mut().zip(items) {
            *dst = *src as u8;
        }
        Ok(())
    }
    #[inline(always)]
    fn slice_encoded_size(items: &[i8]) -> usize {
        items.len()
    }
}

impl SpsDecode<'_> for i8 {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.take_byte()? as i8)
    }
    #[inline(always)]
    fn decode_vec(r: &mut Reader<'_>, count: usize) -> Result<Vec<i8>, DecodeError> {
        Ok(r.take(count)?.iter().map(|&b| b as i8).collect())
    }
}

/// SPSSize: a u64 on the wire; decoding fails if it does not fit a usize.
impl SpsEncode for usize {
    const FIXED_SIZE: Option<usize> = Some(8);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        8
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array((*self as u64).to_le_bytes())
    }
}

impl SpsDecode<'_> for usize {
    const MIN_ENCODED_SIZE: usize = 8;
    const FIXED_SIZE: Option<usize> = Some(8);
    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        usize::try_from(u64::from_le_bytes(r.take_array()?))
            .map_err(|_| DecodeError::InvalidValue("size does not fit in usize"))
    }
}

/// SPSExecutorAddr: a u64.
impl SpsEncode for ExecutorAddr {
    const FIXED_SIZE: Option<usize> = Some(8);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        8
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array(self.value().to_le_bytes())
    }
}

impl SpsDecode<'_> for ExecutorAddr {
    const MIN_ENCODED_SIZE: usize = 8;
    const FIXED_SIZE: Option<usize> = Some(8);
    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ExecutorAddr::new(u64::from_le_bytes(r.take_array()?)))
    }
}

/// SPSExecutorAddrRange: start then **end** (not size), as upstream. Any
/// pair decodes (LLVM does not check `start <= end` either); typed views
/// that need a valid range decode as [`ExecutorSpan`](super::ExecutorSpan).
impl SpsEncode for ExecutorAddrRange {
    const FIXED_SIZE: Option<usize> = Some(16);
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        16
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let mut sub = w.fixed(16)?;
        self.start.encode(&mut sub)?;
        self.end.encode(&mut sub)?;
        sub.end_fixed()
    }
}

impl SpsDecode<'_> for ExecutorAddrRange {
    const MIN_ENCODED_SIZE: usize = 16;
    const FIXED_SIZE: Option<usize> = Some(16);
    #[inline(always)]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut sub = r.fixed(16)?;
        let start = ExecutorAddr::decode(&mut sub)?;
        let end = ExecutorAddr::decode(&mut sub)?;
        sub.end_fixed()?;
        Ok(ExecutorAddrRange::new(start, end))
    }
}

macro_rules! forward_encode {
    ($($ty:ty),*) => {$(
        impl<T: SpsEncode + ?Sized> SpsEncode for $ty {
            const IS_UNIT: bool = T::IS_UNIT;
            const FIXED_SIZE: Option<usize> = T::FIXED_SIZE;
            #[inline(always)]
            fn encoded_size(&self) -> usize {
                (**self).encoded_size()
            }
            #[inline(always)]
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                (**self).encode(w)
            }
        }
    )*};
}
forward_encode!(&T, &mut T, Box<T>, std::rc::Rc<T>, std::sync::Arc<T>);

impl<'de, T: SpsDecode<'de>> SpsDecode<'de> for Box<T> {
    const MIN_ENCODED_SIZE: usize = T::MIN_ENCODED_SIZE;
    const FIXED_SIZE: Option<usize> = T::FIXED_SIZE;
    #[inline(always)]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
}

/// `SPSSequence<T>`: u64 count, then the elements.
impl<T: SpsEncode> SpsEncode for [T] {
    #[inline]
    fn encoded_size(&self) -> usize {
        8 + T::slice_encoded_size(self)
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_len(self.len())?;
        T::encode_slice(self, w)
    }
}

impl<T: SpsEncode, const N: usize> SpsEncode for [T; N] {
    #[inline]
    fn encoded_size(&self) -> usize {
        self.as_slice().encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_slice().encode(w)
    }
}

/// A sequence whose count must be exactly `N`.
impl<'de, T: SpsDecode<'de>, const N: usize> SpsDecode<'de> for [T; N] {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let count = r.take_len(T::MIN_ENCODED_SIZE)?;
        if count != N {
            return Err(DecodeError::InvalidValue(
                "sequence length differs from the array length",
            ));
        }
        T::decode_vec(r, count)?
            .try_into()
            .map_err(|_| DecodeError::InvalidValue("sequence length differs from the array length"))
    }
}

impl<T: SpsEncode> SpsEncode for Vec<T> {
    #[inline]
    fn encoded_size(&self) -> usize {
        self.as_slice().encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_slice().encode(w)
    }
}

impl<'de, T: SpsDecode<'de>> SpsDecode<'de> for Vec<T> {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let count = r.take_len(T::MIN_ENCODED_SIZE)?;
        T::decode_vec(r, count)
    }
}

/// A byte sequence borrowed from the input (zero-copy; upstream's
/// `ArrayRef<char>` / `span<const char>` decoding).
impl<'de: 'a, 'a> SpsDecode<'de> for &'a [u8] {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline(always)]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let len = r.take_len(1)?;
        r.take(len)
    }
}

/// Borrows from the input; `Cow::Owned` only ever appears when encoding.
impl<'de: 'a, 'a> SpsDecode<'de> for Cow<'a, [u8]> {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        <&'a [u8]>::decode(r).map(Cow::Borrowed)
    }
}

/// SPSString: u64 byte length, then the bytes (no NUL).
impl SpsEncode for str {
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        8 + self.len()
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_len(self.len())?;
        w.put(self.as_bytes())
    }
}

impl SpsEncode for String {
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        self.as_str().encoded_size()
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_str().encode(w)
    }
}

impl<B: SpsEncode + ToOwned + ?Sized> SpsEncode for Cow<'_, B> {
    const IS_UNIT: bool = B::IS_UNIT;
    const FIXED_SIZE: Option<usize> = B::FIXED_SIZE;
    #[inline]
    fn encoded_size(&self) -> usize {
        self.as_ref().encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_ref().encode(w)
    }
}

/// A string borrowed from the input; must be UTF-8.
impl<'de: 'a, 'a> SpsDecode<'de> for &'a str {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline(always)]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        super::utf8::str_from_bytes(<&'a [u8]>::decode(r)?)
    }
}

/// Borrows from the input; must be UTF-8.
impl<'de: 'a, 'a> SpsDecode<'de> for Cow<'a, str> {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        <&'a str>::decode(r).map(Cow::Borrowed)
    }
}

impl SpsDecode<'_> for String {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        <&str>::decode(r).map(str::to_owned)
    }
}

/// `SPSOptional<T>`: a presence bool, then the value if present.
impl<T: SpsEncode> SpsEncode for Option<T> {
    #[inline(always)]
    fn encoded_size(&self) -> usize {
        1 + self.as_ref().map_or(0, T::encoded_size)
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            None => w.put_array([0]),
            Some(v) => {
                w.put_array([1])?;
                v.encode(w)
            }
        }
    }
}

impl<'de, T: SpsDecode<'de>> SpsDecode<'de> for Option<T> {
    const MIN_ENCODED_SIZE: usize = 1;
    #[inline(always)]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        if bool::decode(r)? {
            T::decode(r).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// `Result<(), Error>` is SPSError (first byte 1 = failure); any other
/// `Result<T, Error>` is `SPSExpected<T>` (first byte 1 = success). Mind the
/// opposite polarity. On the wire an error is its message only.
impl<T: SpsEncode> SpsEncode for Result<T, Error> {
    #[inline]
    fn encoded_size(&self) -> usize {
        match self {
            Ok(v) => 1 + v.encoded_size(),
            Err(e) => 1 + e.to_wire().encoded_size(),
        }
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let ok_byte = if T::IS_UNIT { 0 } else { 1 };
        match self {
            Ok(v) => {
                w.put_array([ok_byte])?;
                v.encode(w)
            }
            Err(e) => {
                w.put_array([1 - ok_byte])?;
                e.to_wire().encode(w)
            }
        }
    }
}

impl<'de, T: SpsDecode<'de>> SpsDecode<'de> for Result<T, Error> {
    const MIN_ENCODED_SIZE: usize = 1;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let flag = bool::decode(r)?;
        let is_ok = if T::IS_UNIT { !flag } else { flag };
        if is_ok {
            T::decode(r).map(Ok)
        } else {
            // Messages from LLVM are C++ strings with no encoding promise:
            // accept any bytes rather than lose the error.
            let msg = <&[u8]>::decode(r)?;
            Ok(Err(Error::from_wire(String::from_utf8_lossy(msg))))
        }
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        /// SPSTuple / SPSArgList: the fields back to back.
        #[allow(non_snake_case, reason = "macro-generated bindings")]
        impl<$($name: SpsEncode),+> SpsEncode for ($($name,)+) {
            const FIXED_SIZE: Option<usize> = fixed_sum(&[$($name::FIXED_SIZE),+]);
            #[inline(always)]
            fn encoded_size(&self) -> usize {
                if let Some(n) = Self::FIXED_SIZE {
                    return n;
                }
                let ($($name,)+) = self;
                0 $(+ $name.encoded_size())+
            }
            #[inline(always)]
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                let ($($name,)+) = self;
                match Self::FIXED_SIZE {
                    // One bounds check for the whole tuple.
                    Some(n) => {
                        let mut sub = w.fixed(n)?;
                        $($name.encode(&mut sub)?;)+
                        sub.end_fixed()
                    }
                    None => {
                        $($name.encode(w)?;)+
                        Ok(())
                    }
                }
            }
        }

        #[allow(non_snake_case, reason = "macro-generated bindings")]
        impl<'de, $($name: SpsDecode<'de>),+> SpsDecode<'de> for ($($name,)+) {
            const MIN_ENCODED_SIZE: usize = 0 $(+ $name::MIN_ENCODED_SIZE)+;
            const FIXED_SIZE: Option<usize> = fixed_sum(&[$(<$name as SpsDecode<'de>>::FIXED_SIZE),+]);
            #[inline(always)]
            fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
                match Self::FIXED_SIZE {
                    Some(n) => {
                        let mut sub = r.fixed(n)?;
                        let value = ($($name::decode(&mut sub)?,)+);
                        sub.end_fixed()?;
                        Ok(value)
                    }
                    None => Ok(($($name::decode(r)?,)+)),
                }
            }
        }
    };
}
tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);
tuple!(A B C D E F G H I);
tuple!(A B C D E F G H I J);
tuple!(A B C D E F G H I J K);
tuple!(A B C D E F G H I J K L);

/// Encodes map entries as SPSSequence<SPSTuple<K, V>>.
#[inline]
fn map_encoded_size<'m, K, V>(len: usize, entries: impl Iterator<Item = (&'m K, &'m V)>) -> usize
where
    K: SpsEncode + 'm,
    V: SpsEncode + 'm,
{
    match fixed_sum(&[K::FIXED_SIZE, V::FIXED_SIZE]) {
        Some(n) => 8 + n.saturating_mul(len),
        None => {
            8 + entries
                .map(|(k, v)| k.encoded_size() + v.encoded_size())
                .sum::<usize>()
        }
    }
}

#[inline]
fn map_encode<'m, K, V>(
    w: &mut Writer<'_>,
    len: usize,
    entries: impl Iterator<Item = (&'m K, &'m V)>,
) -> Result<(), EncodeError>
where
    K: SpsEncode + 'm,
    V: SpsEncode + 'm,
{
    w.put_len(len)?;
    for (k, v) in entries {
        (k, v).encode(w)?;
    }
    Ok(())
}

/// `SPSMap<K, V>`: a sequence of (key, value) pairs, in the map's order.
impl<K: SpsEncode, V: SpsEncode, S> SpsEncode for HashMap<K, V, S> {
    #[inline]
    fn encoded_size(&self) -> usize {
        map_encoded_size(self.len(), self.iter())
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        map_encode(w, self.len(), self.iter())
    }
}

/// Fails with [`DecodeError::DuplicateKey`] if a key repeats (as LLVM's
/// `StringMap` decoding does).
impl<'de, K, V, S> SpsDecode<'de> for HashMap<K, V, S>
where
    K: SpsDecode<'de> + Eq + Hash,
    V: SpsDecode<'de>,
    S: BuildHasher + Default,
{
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        // Two passes: the entries into a vector (its reservation bounded by
        // the input, as every sequence's), then a table sized for the
        // entries that were really there. A hash table needs about twice
        // the bytes of its entries, so reserving it from the claimed count
        // would exceed the input; growing it instead rehashes every key
        // several times.
        let entries = <Vec<(K, V)>>::decode(r)?;
        let mut map = HashMap::with_capacity_and_hasher(entries.len(), S::default());
        for (k, v) in entries {
            if map.insert(k, v).is_some() {
                return Err(DecodeError::DuplicateKey);
            }
        }
        Ok(map)
    }
}

impl<K: SpsEncode, V: SpsEncode> SpsEncode for BTreeMap<K, V> {
    #[inline]
    fn encoded_size(&self) -> usize {
        map_encoded_size(self.len(), self.iter())
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        map_encode(w, self.len(), self.iter())
    }
}

/// Fails with [`DecodeError::DuplicateKey`] if a key repeats.
impl<'de, K: SpsDecode<'de> + Ord, V: SpsDecode<'de>> SpsDecode<'de> for BTreeMap<K, V> {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let count = r.take_len(K::MIN_ENCODED_SIZE + V::MIN_ENCODED_SIZE)?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let (k, v) = <(K, V)>::decode(r)?;
            if map.insert(k, v).is_some() {
                return Err(DecodeError::DuplicateKey);
            }
        }
        Ok(map)
    }
}

/// SPSWrapperFunctionBuffer: u64 size, then the bytes. An out-of-band error
/// cannot be carried and encodes as its (empty) bytes; callers must turn
/// errors into values first.
impl SpsEncode for WrapperFunctionBuffer {
    #[inline]
    fn encoded_size(&self) -> usize {
        8 + self.bytes().len()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.bytes().encode(w)
    }
}

impl SpsDecode<'_> for WrapperFunctionBuffer {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        <&[u8]>::decode(r).map(WrapperFunctionBuffer::copy_from)
    }
}
