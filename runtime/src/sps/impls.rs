//! SPS encodings of std types and of the runtime's address and error types.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use super::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};
use crate::addr::{ExecutorAddr, ExecutorAddrRange};
use crate::error::Error;
use crate::wrapper::WrapperFunctionBuffer;

impl SpsEncode for () {
    const IS_UNIT: bool = true;
    #[inline]
    fn encoded_size(&self) -> usize {
        0
    }
    #[inline]
    fn encode(&self, _: &mut Writer<'_>) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl SpsDecode<'_> for () {
    const MIN_ENCODED_SIZE: usize = 0;
    #[inline]
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl SpsEncode for bool {
    #[inline]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([*self as u8])
    }
}

impl SpsDecode<'_> for bool {
    const MIN_ENCODED_SIZE: usize = 1;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.take_array::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            // Upstream reads any byte as a C++ bool (undefined behaviour for
            // values other than 0 and 1); we reject them.
            other => Err(DecodeError::BadBool(other)),
        }
    }
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl SpsEncode for $t {
            #[inline]
            fn encoded_size(&self) -> usize {
                size_of::<$t>()
            }
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.put_array(self.to_le_bytes())
            }
        }

        impl SpsDecode<'_> for $t {
            const MIN_ENCODED_SIZE: usize = size_of::<$t>();
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(r.take_array()?))
            }
        }
    )*};
}
integer!(i8, i16, i32, i64, u16, u32, u64);

// u8 is written by hand: sequences of it take the one-copy fast path.
impl SpsEncode for u8 {
    #[inline]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([*self])
    }
    #[inline]
    fn encode_slice(items: &[u8], w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put(items)
    }
    #[inline]
    fn slice_encoded_size(items: &[u8]) -> usize {
        items.len()
    }
}

impl SpsDecode<'_> for u8 {
    const MIN_ENCODED_SIZE: usize = 1;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.take_array::<1>()?[0])
    }
    #[inline]
    fn decode_vec(r: &mut Reader<'_>, count: usize) -> Result<Vec<u8>, DecodeError> {
        Ok(r.take(count)?.to_vec())
    }
}

/// SPSSize: a u64 on the wire; decoding fails if it does not fit a usize.
impl SpsEncode for usize {
    #[inline]
    fn encoded_size(&self) -> usize {
        8
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array((*self as u64).to_le_bytes())
    }
}

impl SpsDecode<'_> for usize {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        usize::try_from(u64::from_le_bytes(r.take_array()?))
            .map_err(|_| DecodeError::InvalidValue("size does not fit in usize"))
    }
}

impl SpsEncode for ExecutorAddr {
    #[inline]
    fn encoded_size(&self) -> usize {
        8
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array(self.value().to_le_bytes())
    }
}

impl SpsDecode<'_> for ExecutorAddr {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ExecutorAddr::new(u64::from_le_bytes(r.take_array()?)))
    }
}

/// Start then **end** (not size), as upstream.
impl SpsEncode for ExecutorAddrRange {
    #[inline]
    fn encoded_size(&self) -> usize {
        16
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.start.encode(w)?;
        self.end.encode(w)
    }
}

impl SpsDecode<'_> for ExecutorAddrRange {
    const MIN_ENCODED_SIZE: usize = 16;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ExecutorAddrRange::new(
            ExecutorAddr::decode(r)?,
            ExecutorAddr::decode(r)?,
        ))
    }
}

impl<T: SpsEncode + ?Sized> SpsEncode for &T {
    const IS_UNIT: bool = T::IS_UNIT;
    #[inline]
    fn encoded_size(&self) -> usize {
        (**self).encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        (**self).encode(w)
    }
}

impl<T: SpsEncode + ?Sized> SpsEncode for Box<T> {
    const IS_UNIT: bool = T::IS_UNIT;
    #[inline]
    fn encoded_size(&self) -> usize {
        (**self).encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        (**self).encode(w)
    }
}

impl<'de, T: SpsDecode<'de>> SpsDecode<'de> for Box<T> {
    const MIN_ENCODED_SIZE: usize = T::MIN_ENCODED_SIZE;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
}

/// SPSSequence<T>: u64 count, then the elements.
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

/// A byte sequence borrowed from the input (zero-copy).
impl<'de> SpsDecode<'de> for &'de [u8] {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let len = r.take_len(1)?;
        r.take(len)
    }
}

/// SPSString: u64 byte length, then the bytes (no NUL).
impl SpsEncode for str {
    #[inline]
    fn encoded_size(&self) -> usize {
        8 + self.len()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_len(self.len())?;
        w.put(self.as_bytes())
    }
}

impl SpsEncode for String {
    #[inline]
    fn encoded_size(&self) -> usize {
        self.as_str().encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_str().encode(w)
    }
}

/// A string borrowed from the input; must be UTF-8.
impl<'de> SpsDecode<'de> for &'de str {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let bytes = <&'de [u8]>::decode(r)?;
        std::str::from_utf8(bytes).map_err(|e| DecodeError::BadUtf8 {
            offset: e.valid_up_to(),
        })
    }
}

impl SpsDecode<'_> for String {
    const MIN_ENCODED_SIZE: usize = 8;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        <&str>::decode(r).map(str::to_owned)
    }
}

/// SPSOptional<T>: a presence bool, then the value if present.
impl<T: SpsEncode> SpsEncode for Option<T> {
    #[inline]
    fn encoded_size(&self) -> usize {
        1 + self.as_ref().map_or(0, T::encoded_size)
    }
    #[inline]
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
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        if bool::decode(r)? {
            T::decode(r).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// `Result<(), Error>` is SPSError (first byte 1 = failure); any other
/// `Result<T, Error>` is SPSExpected<T> (first byte 1 = success). Mind the
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

impl<'de, T: SpsDecode<'de> + SpsEncode> SpsDecode<'de> for Result<T, Error> {
    const MIN_ENCODED_SIZE: usize = 1;
    #[inline]
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let flag = bool::decode(r)?;
        let is_ok = if T::IS_UNIT { !flag } else { flag };
        if is_ok {
            T::decode(r).map(Ok)
        } else {
            // Messages from LLVM are C++ strings: accept any bytes.
            let msg = <&[u8]>::decode(r)?;
            Ok(Err(Error::from_wire(String::from_utf8_lossy(msg))))
        }
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        #[allow(non_snake_case, reason = "macro-generated bindings")]
        impl<$($name: SpsEncode),+> SpsEncode for ($($name,)+) {
            #[inline]
            fn encoded_size(&self) -> usize {
                let ($($name,)+) = self;
                0 $(+ $name.encoded_size())+
            }
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                let ($($name,)+) = self;
                $($name.encode(w)?;)+
                Ok(())
            }
        }

        impl<'de, $($name: SpsDecode<'de>),+> SpsDecode<'de> for ($($name,)+) {
            const MIN_ENCODED_SIZE: usize = 0 $(+ $name::MIN_ENCODED_SIZE)+;
            #[inline]
            fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
                Ok(($($name::decode(r)?,)+))
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

/// SPSMap<K, V>: a sequence of (key, value) pairs.
impl<K: SpsEncode, V: SpsEncode, S> SpsEncode for HashMap<K, V, S> {
    fn encoded_size(&self) -> usize {
        8 + self
            .iter()
            .map(|(k, v)| k.encoded_size() + v.encoded_size())
            .sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_len(self.len())?;
        self.iter().try_for_each(|(k, v)| {
            k.encode(w)?;
            v.encode(w)
        })
    }
}

impl<'de, K, V, S> SpsDecode<'de> for HashMap<K, V, S>
where
    K: SpsDecode<'de> + Eq + Hash,
    V: SpsDecode<'de>,
    S: BuildHasher + Default,
{
    const MIN_ENCODED_SIZE: usize = 8;
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let count = r.take_len(K::MIN_ENCODED_SIZE + V::MIN_ENCODED_SIZE)?;
        let mut map = HashMap::with_capacity_and_hasher(count, S::default());
        for _ in 0..count {
            let (k, v) = <(K, V)>::decode(r)?;
            if map.insert(k, v).is_some() {
                return Err(DecodeError::InvalidValue("duplicate key in map"));
            }
        }
        Ok(map)
    }
}

impl<K: SpsEncode, V: SpsEncode> SpsEncode for BTreeMap<K, V> {
    fn encoded_size(&self) -> usize {
        8 + self
            .iter()
            .map(|(k, v)| k.encoded_size() + v.encoded_size())
            .sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_len(self.len())?;
        self.iter().try_for_each(|(k, v)| {
            k.encode(w)?;
            v.encode(w)
        })
    }
}

impl<'de, K: SpsDecode<'de> + Ord, V: SpsDecode<'de>> SpsDecode<'de> for BTreeMap<K, V> {
    const MIN_ENCODED_SIZE: usize = 8;
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        let count = r.take_len(K::MIN_ENCODED_SIZE + V::MIN_ENCODED_SIZE)?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let (k, v) = <(K, V)>::decode(r)?;
            if map.insert(k, v).is_some() {
                return Err(DecodeError::InvalidValue("duplicate key in map"));
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
