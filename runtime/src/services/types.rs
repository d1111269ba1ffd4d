//! The SPS shapes of LLVM 22's executor-service requests
//! (`TargetProcessControlTypes.h`, `AllocationActions.h`).
//!
//! FIXME(unify): the "sps" branch adds shared protocol types (AllocGroup,
//! MemProt, AllocAction); these local ones cover only what the executor
//! services decode and should be merged with them.

use crate::addr::ExecutorAddr;
use crate::sps::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};

/// `AllocGroup` bits: read 1, write 2, exec 4; bit 3 = finalize lifetime
/// (the segment is only needed until finalization ends).
pub(crate) const ALLOC_GROUP_FINALIZE_LIFETIME: u8 = 8;

/// A function to call with argument bytes (`WrapperFunctionCall`); a null
/// function means "no call".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WrapperFunctionCall {
    /// The function (legacy wrapper ABI), or null.
    pub function: ExecutorAddr,
    /// Its argument bytes.
    pub args: Vec<u8>,
}

impl WrapperFunctionCall {
    /// True if there is nothing to call.
    pub fn is_none(&self) -> bool {
        self.function.is_null()
    }
}

impl SpsEncode for WrapperFunctionCall {
    fn encoded_size(&self) -> usize {
        8 + self.args.encoded_size()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.function.encode(w)?;
        self.args.encode(w)
    }
}

impl SpsDecode<'_> for WrapperFunctionCall {
    const MIN_ENCODED_SIZE: usize = 16;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(WrapperFunctionCall {
            function: ExecutorAddr::decode(r)?,
            args: Vec::decode(r)?,
        })
    }
}

/// A finalize action and the dealloc action that undoes it
/// (`AllocActionCallPair`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllocActionPair {
    /// Run during initialize, in order.
    pub finalize: WrapperFunctionCall,
    /// Run during deinitialize/release, in reverse order.
    pub dealloc: WrapperFunctionCall,
}

impl SpsEncode for AllocActionPair {
    fn encoded_size(&self) -> usize {
        self.finalize.encoded_size() + self.dealloc.encoded_size()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.finalize.encode(w)?;
        self.dealloc.encode(w)
    }
}

impl SpsDecode<'_> for AllocActionPair {
    const MIN_ENCODED_SIZE: usize = 32;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AllocActionPair {
            finalize: WrapperFunctionCall::decode(r)?,
            dealloc: WrapperFunctionCall::decode(r)?,
        })
    }
}

/// One segment of a finalize request (`SegFinalizeRequest`); the content
/// borrows from the request bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRequest<'a> {
    /// `AllocGroup` byte: protection bits and lifetime.
    pub group: u8,
    /// Where the segment goes.
    pub addr: ExecutorAddr,
    /// Its size; content shorter than this is zero-filled.
    pub size: u64,
    /// The bytes to copy.
    pub content: &'a [u8],
}

impl SpsEncode for SegmentRequest<'_> {
    fn encoded_size(&self) -> usize {
        1 + 8 + 8 + self.content.encoded_size()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.group.encode(w)?;
        self.addr.encode(w)?;
        self.size.encode(w)?;
        self.content.encode(w)
    }
}

impl<'a> SpsDecode<'a> for SegmentRequest<'a> {
    const MIN_ENCODED_SIZE: usize = 25;
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(SegmentRequest {
            group: u8::decode(r)?,
            addr: ExecutorAddr::decode(r)?,
            size: u64::decode(r)?,
            content: <&'a [u8]>::decode(r)?,
        })
    }
}

/// An initialize request (`FinalizeRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FinalizeRequest<'a> {
    /// Segments to copy and protect.
    pub segments: Vec<SegmentRequest<'a>>,
    /// Actions to run once the segments are in place.
    pub actions: Vec<AllocActionPair>,
}

impl SpsEncode for FinalizeRequest<'_> {
    fn encoded_size(&self) -> usize {
        self.segments.encoded_size() + self.actions.encoded_size()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.segments.encode(w)?;
        self.actions.encode(w)
    }
}

impl<'a> SpsDecode<'a> for FinalizeRequest<'a> {
    const MIN_ENCODED_SIZE: usize = 16;
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(FinalizeRequest {
            segments: Vec::decode(r)?,
            actions: Vec::decode(r)?,
        })
    }
}

/// A resolved symbol (`ExecutorSymbolDef`): address and JIT symbol flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorSymbolDef {
    /// The symbol's address (0 = not found, for weak lookups).
    pub addr: ExecutorAddr,
    /// `JITSymbolFlags` bits (0x10 = Exported).
    pub flags: u8,
    /// Target-specific flags.
    pub target_flags: u8,
}

/// `JITSymbolFlags::Exported`.
pub const SYMBOL_FLAG_EXPORTED: u8 = 0x10;

impl SpsEncode for ExecutorSymbolDef {
    fn encoded_size(&self) -> usize {
        10
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.addr.encode(w)?;
        self.flags.encode(w)?;
        self.target_flags.encode(w)
    }
}

impl SpsDecode<'_> for ExecutorSymbolDef {
    const MIN_ENCODED_SIZE: usize = 10;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ExecutorSymbolDef {
            addr: ExecutorAddr::decode(r)?,
            flags: u8::decode(r)?,
            target_flags: u8::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sps;
    use proptest::prelude::*;

    #[test]
    fn golden_finalize_request_with_one_segment_and_one_action() {
        let req = FinalizeRequest {
            segments: vec![SegmentRequest {
                group: 5,
                addr: ExecutorAddr::new(0x1000),
                size: 0x1000,
                content: b"ab",
            }],
            actions: vec![AllocActionPair {
                finalize: WrapperFunctionCall {
                    function: ExecutorAddr::new(0x2000),
                    args: vec![1],
                },
                dealloc: WrapperFunctionCall::default(),
            }],
        };
        let bytes = sps::to_vec(&req);
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 5];
        expected.extend_from_slice(&0x1000u64.to_le_bytes());
        expected.extend_from_slice(&0x1000u64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(b"ab");
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&0x2000u64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.push(1);
        expected.extend_from_slice(&[0; 16]);
        assert_eq!(bytes, expected);
        assert_eq!(sps::from_bytes::<FinalizeRequest<'_>>(&bytes).unwrap(), req);
    }

    #[test]
    fn a_huge_segment_count_is_refused_before_allocating() {
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 40]);
        assert!(matches!(
            sps::from_bytes::<FinalizeRequest<'_>>(&bytes).unwrap_err(),
            DecodeError::LengthExceedsInput { .. }
        ));
    }

    proptest! {
        #[test]
        fn finalize_requests_round_trip(
            segs in proptest::collection::vec((any::<u8>(), any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..4),
            acts in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..20), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..4),
        ) {
            let req = FinalizeRequest {
                segments: segs.iter().map(|(g, a, s, c)| SegmentRequest { group: *g, addr: ExecutorAddr::new(*a), size: *s, content: c }).collect(),
                actions: acts.iter().map(|(f, fa, d, da)| AllocActionPair {
                    finalize: WrapperFunctionCall { function: ExecutorAddr::new(*f), args: fa.clone() },
                    dealloc: WrapperFunctionCall { function: ExecutorAddr::new(*d), args: da.clone() },
                }).collect(),
            };
            let bytes = sps::to_vec(&req);
            prop_assert_eq!(bytes.len(), req.encoded_size());
            prop_assert_eq!(sps::from_bytes::<FinalizeRequest<'_>>(&bytes).unwrap(), req);
        }

        #[test]
        fn symbol_defs_round_trip(a in any::<u64>(), f in any::<u8>(), t in any::<u8>()) {
            let d = ExecutorSymbolDef { addr: ExecutorAddr::new(a), flags: f, target_flags: t };
            prop_assert_eq!(sps::from_bytes::<ExecutorSymbolDef>(&sps::to_vec(&d)).unwrap(), d);
        }
    }
}
