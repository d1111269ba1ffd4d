//! The SPS shapes of LLVM 22's executor-service requests
//! (`TargetProcessControlTypes.h`, `AllocationActions.h`).
//!
//! The allocation-action and alloc-group types are the shared ones of
//! `sps::memory`; this module adds the request shapes only the executor
//! services decode.

pub use orc_rt::sps::memory::{AllocAction, AllocActionPair, AllocGroup, MemLifetime, MemProt};

use orc_rt::addr::ExecutorAddr;
use orc_rt::sps::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};

/// One segment of a finalize request (`SegFinalizeRequest`); the content
/// borrows from the request bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRequest<'a> {
    /// Protection and lifetime.
    pub group: AllocGroup,
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
            group: AllocGroup::decode(r)?,
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
    use orc_rt::sps;
    use proptest::prelude::*;

    #[test]
    fn golden_finalize_request_with_one_segment_and_one_action() {
        let req = FinalizeRequest {
            segments: vec![SegmentRequest {
                group: AllocGroup::from(MemProt::READ | MemProt::EXEC),
                addr: ExecutorAddr::new(0x1000),
                size: 0x1000,
                content: b"ab",
            }],
            actions: vec![AllocActionPair {
                finalize: AllocAction::new(ExecutorAddr::new(0x2000), vec![1].into()),
                dealloc: AllocAction::none(),
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
            segs in proptest::collection::vec((0u8..16, any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..4),
            acts in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..20), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..4),
        ) {
            let req = FinalizeRequest {
                segments: segs.iter().map(|(g, a, s, c)| SegmentRequest { group: AllocGroup::from_bits(*g).unwrap(), addr: ExecutorAddr::new(*a), size: *s, content: c }).collect(),
                actions: acts.iter().map(|(f, fa, d, da)| AllocActionPair {
                    finalize: AllocAction::new(ExecutorAddr::new(*f), fa.clone().into()),
                    dealloc: AllocAction::new(ExecutorAddr::new(*d), da.clone().into()),
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
