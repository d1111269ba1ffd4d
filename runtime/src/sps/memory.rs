//! Memory flags and allocation actions as the wire protocol carries them
//! (upstream `MemoryFlags.h`, `AllocAction.h`; LLVM 22's
//! `TargetProcessControlTypes.h` and `AllocationActions.h`).
//!
//! # The alloc-group byte: LLVM 22 and the spec agree
//!
//! LLVM 22 does not put its in-memory `AllocGroup` on the wire. It sends a
//! `tpctypes::RemoteAllocGroup` (a `MemProt` and a `FinalizeLifetime` bool)
//! through `SPSRemoteAllocGroup`, one byte: bit 0 read, bit 1 write, bit 2
//! execute, bit 3 finalize lifetime. That is exactly the spec's
//! `SPSAllocGroup` layout (`prot | lifetime << 3`, Standard = 0,
//! Finalize = 1), so [`AllocGroup`] serves both. Two differences, neither
//! visible on a well-formed wire:
//!
//! - LLVM's in-memory `AllocGroup` keeps two lifetime bits, with a third
//!   lifetime, `NoAlloc` (= 2, bit 4). A no-alloc group is never sent (LLVM
//!   asserts "Cannot use no-alloc memory in a remote alloc request"), so
//!   [`MemLifetime`] has only `Standard` and `Finalize`.
//! - LLVM's decoder ignores bits 4-7 of the byte; ours rejects them with
//!   [`DecodeError::InvalidValue`], since LLVM's encoder never sets them.
//!
//! An allocation action is LLVM 22's `SPSWrapperFunctionCall`
//! (`SPSTuple<SPSExecutorAddr, SPSSequence<char>>`: function address, then
//! the argument bytes with a u64 length), the same bytes as the spec's
//! `SPSExecutorAddr ‖ SPSWrapperFunctionBuffer`. A pair is the finalize
//! action then the dealloc action (`SPSAllocActionCallPair`).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use super::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};
use crate::addr::ExecutorAddr;
use crate::wrapper::WrapperFunctionBuffer;

/// Memory protection (upstream `MemProt`): a set of read (1), write (2)
/// and execute (4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MemProt(u8);

impl MemProt {
    /// No access.
    pub const NONE: MemProt = MemProt(0);
    /// Readable.
    pub const READ: MemProt = MemProt(1);
    /// Writable.
    pub const WRITE: MemProt = MemProt(2);
    /// Executable.
    pub const EXEC: MemProt = MemProt(4);
    /// Every bit a `MemProt` may have.
    pub const ALL: MemProt = MemProt(7);

    /// The bits (read 1, write 2, execute 4).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set with these bits, or `None` if a bit other than 0-2 is set.
    pub const fn from_bits(bits: u8) -> Option<MemProt> {
        if bits & !Self::ALL.0 == 0 {
            Some(MemProt(bits))
        } else {
            None
        }
    }

    /// True if every bit of `other` is in `self`.
    pub const fn contains(self, other: MemProt) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if no bit is set.
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for MemProt {
    type Output = MemProt;
    fn bitor(self, rhs: MemProt) -> MemProt {
        MemProt(self.0 | rhs.0)
    }
}

impl BitOrAssign for MemProt {
    fn bitor_assign(&mut self, rhs: MemProt) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for MemProt {
    type Output = MemProt;
    fn bitand(self, rhs: MemProt) -> MemProt {
        MemProt(self.0 & rhs.0)
    }
}

/// `R-X` style, as LLVM prints it.
impl fmt::Display for MemProt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |p: MemProt, c: char| if self.contains(p) { c } else { '-' };
        write!(
            f,
            "{}{}{}",
            flag(MemProt::READ, 'R'),
            flag(MemProt::WRITE, 'W'),
            flag(MemProt::EXEC, 'X')
        )
    }
}

impl fmt::Debug for MemProt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemProt({self})")
    }
}

/// One byte, the bits. Not sent alone by LLVM 22 (it travels inside the
/// alloc-group byte); offered so handlers can take a protection argument.
impl SpsEncode for MemProt {
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([self.0])
    }
}

impl SpsDecode<'_> for MemProt {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        MemProt::from_bits(r.take_byte()?).ok_or(DecodeError::InvalidValue(
            "memory protection has unknown bits",
        ))
    }
}

/// When an allocation's memory is freed (upstream `MemLifetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum MemLifetime {
    /// Freed when the allocation is deinitialized or released.
    #[default]
    Standard = 0,
    /// Needed only until finalization ends; freed then.
    Finalize = 1,
}

impl fmt::Display for MemLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemLifetime::Standard => "standard",
            MemLifetime::Finalize => "finalize",
        })
    }
}

/// One byte, 0 standard or 1 finalize. Like [`MemProt`], not sent alone by
/// LLVM 22.
impl SpsEncode for MemLifetime {
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([*self as u8])
    }
}

impl SpsDecode<'_> for MemLifetime {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.take_byte()? {
            0 => Ok(MemLifetime::Standard),
            1 => Ok(MemLifetime::Finalize),
            _ => Err(DecodeError::InvalidValue("unknown memory lifetime")),
        }
    }
}

/// A segment's protection and lifetime (upstream `AllocGroup`; on the wire
/// LLVM 22's `SPSRemoteAllocGroup`): one byte, `prot | lifetime << 3`.
/// Ordered by that byte, as upstream orders groups.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AllocGroup(u8);

impl AllocGroup {
    const LIFETIME_SHIFT: u32 = 3;

    /// The group of `prot` memory with `lifetime`.
    pub const fn new(prot: MemProt, lifetime: MemLifetime) -> Self {
        AllocGroup(prot.0 | (lifetime as u8) << Self::LIFETIME_SHIFT)
    }

    /// The protection.
    pub const fn prot(self) -> MemProt {
        MemProt(self.0 & MemProt::ALL.0)
    }

    /// The lifetime.
    pub const fn lifetime(self) -> MemLifetime {
        if self.0 >> Self::LIFETIME_SHIFT == 0 {
            MemLifetime::Standard
        } else {
            MemLifetime::Finalize
        }
    }

    /// The wire byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The group with this wire byte, or `None` if bits 4-7 are set.
    pub const fn from_bits(bits: u8) -> Option<AllocGroup> {
        if bits >> (Self::LIFETIME_SHIFT + 1) == 0 {
            Some(AllocGroup(bits))
        } else {
            None
        }
    }
}

impl From<MemProt> for AllocGroup {
    /// Standard lifetime, as upstream's one-argument constructor.
    fn from(prot: MemProt) -> Self {
        AllocGroup::new(prot, MemLifetime::Standard)
    }
}

/// `(R-X, standard)`, as LLVM prints it.
impl fmt::Display for AllocGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.prot(), self.lifetime())
    }
}

impl fmt::Debug for AllocGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AllocGroup{self}")
    }
}

impl SpsEncode for AllocGroup {
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline]
    fn encoded_size(&self) -> usize {
        1
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_array([self.0])
    }
}

impl SpsDecode<'_> for AllocGroup {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        AllocGroup::from_bits(r.take_byte()?).ok_or(DecodeError::InvalidValue(
            "alloc group has bits above bit 3",
        ))
    }
}

/// A call to run at finalization or deallocation (upstream `AllocAction`;
/// LLVM 22's `WrapperFunctionCall`): a wrapper function in the executor and
/// its SPS-encoded argument bytes. Address 0 means "no action".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllocAction {
    /// The function, called with the legacy wrapper ABI
    /// (`CWrapperFunctionResult fn(const char *, size_t)`); null = none.
    pub function: ExecutorAddr,
    /// Its argument bytes.
    pub args: WrapperFunctionBuffer,
}

impl AllocAction {
    /// A call of `function` with `args`.
    pub fn new(function: ExecutorAddr, args: WrapperFunctionBuffer) -> Self {
        AllocAction { function, args }
    }

    /// No action (null function, no arguments).
    pub fn none() -> Self {
        AllocAction::default()
    }

    /// True if there is nothing to run (the function address is null).
    pub fn is_none(&self) -> bool {
        self.function.is_null()
    }
}

/// `SPSWrapperFunctionCall`: function address ‖ u64 length ‖ argument bytes.
impl SpsEncode for AllocAction {
    #[inline]
    fn encoded_size(&self) -> usize {
        8 + self.args.encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.function.encode(w)?;
        self.args.encode(w)
    }
}

impl SpsDecode<'_> for AllocAction {
    const MIN_ENCODED_SIZE: usize = 16;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AllocAction {
            function: ExecutorAddr::decode(r)?,
            args: WrapperFunctionBuffer::decode(r)?,
        })
    }
}

/// The finalize action of an allocation and the dealloc action that undoes
/// it (upstream `AllocActionPair`; LLVM 22's `AllocActionCallPair`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllocActionPair {
    /// Run when the allocation is finalized.
    pub finalize: AllocAction,
    /// Run when it is deallocated, if finalize succeeded.
    pub dealloc: AllocAction,
}

/// `SPSAllocActionCallPair`: finalize ‖ dealloc.
impl SpsEncode for AllocActionPair {
    #[inline]
    fn encoded_size(&self) -> usize {
        self.finalize.encoded_size() + self.dealloc.encoded_size()
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.finalize.encode(w)?;
        self.dealloc.encode(w)
    }
}

impl SpsDecode<'_> for AllocActionPair {
    const MIN_ENCODED_SIZE: usize = 32;
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AllocActionPair {
            finalize: AllocAction::decode(r)?,
            dealloc: AllocAction::decode(r)?,
        })
    }
}
