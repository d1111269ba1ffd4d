//! Addresses in the executor process: `ExecutorAddr`, `ExecutorAddrDiff` and
//! `ExecutorAddrRange` (upstream `ExecutorAddress.h`).

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// A distance between two executor addresses (upstream `ExecutorAddrDiff`).
pub type ExecutorAddrDiff = u64;

/// An address in the executor process, as a plain 64-bit value.
///
/// The controller names executor code and data by these; turning one into a
/// pointer is safe, dereferencing it is the caller's business.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct ExecutorAddr(u64);

impl ExecutorAddr {
    /// The null address.
    pub const NULL: ExecutorAddr = ExecutorAddr(0);

    /// Wraps a raw address value.
    #[inline]
    pub const fn new(value: u64) -> Self {
        ExecutorAddr(value)
    }

    /// The raw address value.
    #[inline]
    pub const fn value(self) -> u64 {
        self.0
    }

    /// True for the null address.
    #[inline]
    pub const fn is_null(self) -> bool {
        self.0 == 0
    }

    /// The address of `ptr`.
    #[inline]
    pub fn from_ptr<T: ?Sized>(ptr: *const T) -> Self {
        ExecutorAddr(ptr.cast::<()>() as usize as u64)
    }

    /// This address as a pointer (no dereference happens here).
    #[inline]
    pub fn to_ptr<T>(self) -> *mut T {
        self.0 as usize as *mut T
    }

    /// This address with tag bits merged in: `self | (value << offset)`
    /// (upstream `ExecutorAddr::Tag`, the wrap function of `toPtr`). Bits
    /// already set stay set, as upstream's OR does; bits of `value` shifted
    /// past bit 63 are dropped. `offset` must be below 64.
    ///
    /// ```
    /// # use orc_rt::ExecutorAddr;
    /// // A top-byte tag (AArch64 TBI, or a tag the embedder keeps there).
    /// let a = ExecutorAddr::new(0x12_3456).tag(0xA5, 56);
    /// assert_eq!(a.value(), 0xA500_0000_0012_3456);
    /// assert_eq!(a.untag(8, 56), ExecutorAddr::new(0x12_3456));
    /// ```
    #[inline]
    pub const fn tag(self, value: u64, offset: u32) -> Self {
        assert!(offset < 64, "tag offset must be below 64");
        ExecutorAddr(self.0 | value << offset)
    }

    /// This address with the `len`-bit field at bit `offset` cleared:
    /// `self & !(((1 << len) - 1) << offset)` (upstream
    /// `ExecutorAddr::Untag`, the unwrap function of `fromPtr`). `len` may
    /// be 64 (upstream's shift would be undefined there); field bits past
    /// bit 63 are ignored. `offset` must be below 64 and `len` at most 64.
    #[inline]
    pub const fn untag(self, len: u32, offset: u32) -> Self {
        assert!(offset < 64 && len <= 64, "tag field out of range");
        let field = if len == 64 {
            u64::MAX
        } else {
            (1u64 << len) - 1
        };
        ExecutorAddr(self.0 & !(field << offset))
    }

    /// The address of a tagged pointer with its tag field stripped
    /// (upstream `fromPtr(P, Untag(len, offset))`).
    #[inline]
    pub fn from_tagged_ptr<T: ?Sized>(ptr: *const T, len: u32, offset: u32) -> Self {
        ExecutorAddr::from_ptr(ptr).untag(len, offset)
    }

    /// This address as a pointer with tag bits merged in (upstream
    /// `toPtr<T*>(Tag(value, offset))`); no dereference happens here.
    #[inline]
    pub fn to_tagged_ptr<T>(self, value: u64, offset: u32) -> *mut T {
        self.tag(value, offset).to_ptr()
    }

    /// Rounds up to a multiple of `align`, which must be a power of two.
    /// Returns `None` if `align` is not a power of two or the result overflows.
    #[inline]
    pub fn align_up(self, align: u64) -> Option<Self> {
        if !align.is_power_of_two() {
            return None;
        }
        let mask = align - 1;
        self.0.checked_add(mask).map(|v| ExecutorAddr(v & !mask))
    }

    /// Rounds down to a multiple of `align`, which must be a power of two.
    #[inline]
    pub fn align_down(self, align: u64) -> Option<Self> {
        align
            .is_power_of_two()
            .then(|| ExecutorAddr(self.0 & !(align - 1)))
    }

    /// True if the address is a multiple of `align` (a power of two).
    #[inline]
    pub fn is_aligned(self, align: u64) -> bool {
        align.is_power_of_two() && self.0 & (align - 1) == 0
    }

    /// `self + diff`, or `None` on overflow.
    #[inline]
    pub fn checked_add(self, diff: ExecutorAddrDiff) -> Option<Self> {
        self.0.checked_add(diff).map(ExecutorAddr)
    }

    /// `self - other`, or `None` if `other` lies above `self`.
    #[inline]
    pub fn checked_diff(self, other: ExecutorAddr) -> Option<ExecutorAddrDiff> {
        self.0.checked_sub(other.0)
    }
}

impl fmt::Debug for ExecutorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for ExecutorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for ExecutorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl From<u64> for ExecutorAddr {
    fn from(value: u64) -> Self {
        ExecutorAddr(value)
    }
}

impl From<ExecutorAddr> for u64 {
    fn from(addr: ExecutorAddr) -> Self {
        addr.0
    }
}

/// Wrapping, as upstream's unsigned arithmetic.
impl Add<ExecutorAddrDiff> for ExecutorAddr {
    type Output = ExecutorAddr;
    #[inline]
    fn add(self, rhs: ExecutorAddrDiff) -> ExecutorAddr {
        ExecutorAddr(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<ExecutorAddrDiff> for ExecutorAddr {
    #[inline]
    fn add_assign(&mut self, rhs: ExecutorAddrDiff) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

/// Wrapping, as upstream's unsigned arithmetic.
impl Sub<ExecutorAddrDiff> for ExecutorAddr {
    type Output = ExecutorAddr;
    #[inline]
    fn sub(self, rhs: ExecutorAddrDiff) -> ExecutorAddr {
        ExecutorAddr(self.0.wrapping_sub(rhs))
    }
}

impl SubAssign<ExecutorAddrDiff> for ExecutorAddr {
    #[inline]
    fn sub_assign(&mut self, rhs: ExecutorAddrDiff) {
        self.0 = self.0.wrapping_sub(rhs);
    }
}

/// The distance between two addresses (wrapping, as upstream).
impl Sub<ExecutorAddr> for ExecutorAddr {
    type Output = ExecutorAddrDiff;
    #[inline]
    fn sub(self, rhs: ExecutorAddr) -> ExecutorAddrDiff {
        self.0.wrapping_sub(rhs.0)
    }
}

/// A half-open range `[start, end)` of executor addresses.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecutorAddrRange {
    /// First address in the range.
    pub start: ExecutorAddr,
    /// One past the last address in the range.
    pub end: ExecutorAddr,
}

impl ExecutorAddrRange {
    /// The range `[start, end)`.
    #[inline]
    pub const fn new(start: ExecutorAddr, end: ExecutorAddr) -> Self {
        ExecutorAddrRange { start, end }
    }

    /// The range `[start, start + size)`; `None` if it would wrap around.
    #[inline]
    pub fn from_size(start: ExecutorAddr, size: ExecutorAddrDiff) -> Option<Self> {
        start
            .checked_add(size)
            .map(|end| ExecutorAddrRange { start, end })
    }

    /// The range covering `bytes`.
    pub fn of_slice(bytes: &[u8]) -> Self {
        let start = ExecutorAddr::from_ptr(bytes.as_ptr());
        ExecutorAddrRange::new(start, start + bytes.len() as u64)
    }

    /// True if the range holds no address (`end <= start`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// `end - start`, or 0 for an inverted range.
    #[inline]
    pub fn size(&self) -> ExecutorAddrDiff {
        self.end.checked_diff(self.start).unwrap_or(0)
    }

    /// True if `addr` lies in `[start, end)`.
    #[inline]
    pub fn contains(&self, addr: ExecutorAddr) -> bool {
        self.start <= addr && addr < self.end
    }

    /// True if all of `other` lies inside this range (an empty `other` is
    /// contained when its start is inside or at the end).
    #[inline]
    pub fn contains_range(&self, other: &ExecutorAddrRange) -> bool {
        self.start <= other.start && other.end <= self.end && other.start <= other.end
    }

    /// True if the two ranges share at least one address.
    #[inline]
    pub fn overlaps(&self, other: &ExecutorAddrRange) -> bool {
        !self.is_empty() && !other.is_empty() && self.start < other.end && other.start < self.end
    }
}

impl fmt::Debug for ExecutorAddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start.0, self.end.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64) -> ExecutorAddrRange {
        ExecutorAddrRange::new(ExecutorAddr::new(start), ExecutorAddr::new(end))
    }

    #[test]
    fn arithmetic_and_alignment() {
        let a = ExecutorAddr::new(0x1001);
        assert_eq!(a + 0xf, ExecutorAddr::new(0x1010));
        assert_eq!(ExecutorAddr::new(0x1010) - a, 0xf);
        assert_eq!(a.align_up(0x10), Some(ExecutorAddr::new(0x1010)));
        assert_eq!(a.align_down(0x10), Some(ExecutorAddr::new(0x1000)));
        assert_eq!(a.align_up(3), None);
        assert_eq!(ExecutorAddr::new(u64::MAX).align_up(16), None);
        assert!(ExecutorAddr::new(0x2000).is_aligned(0x1000));
        assert!(!a.is_aligned(2));
        assert!(ExecutorAddr::NULL.is_null());
        assert_eq!(a.checked_diff(ExecutorAddr::new(0x2000)), None);
    }

    #[test]
    fn pointers_round_trip() {
        let x = 5u32;
        let addr = ExecutorAddr::from_ptr(&x);
        assert_eq!(addr.to_ptr::<u32>().cast_const(), &x as *const u32);
    }

    // Upstream `ExecutorAddrTest.WrappingAndUnwrapping`: strip a top-byte
    // tag on the way in, put it back on the way out.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn tagged_pointers_round_trip() {
        const RAW: u64 = 0x12_3456;
        const OFFSET: u32 = 56;
        let tagged = (RAW | 0xA5 << OFFSET) as usize as *const u8;
        let addr = ExecutorAddr::from_tagged_ptr(tagged, 8, OFFSET);
        assert_eq!(addr.value(), RAW);
        assert_eq!(addr.to_tagged_ptr::<u8>(0xA5, OFFSET).cast_const(), tagged);
    }

    #[test]
    fn tag_ors_and_untag_clears_only_its_field() {
        let a = ExecutorAddr::new(0xF0);
        // Tag ORs: a bit already set stays set (upstream semantics).
        assert_eq!(a.tag(0b1, 4).value(), 0xF0);
        assert_eq!(a.tag(0b1, 8).value(), 0x1F0);
        // Bits shifted past bit 63 are dropped.
        assert_eq!(ExecutorAddr::NULL.tag(0xFF, 60).value(), 0xF << 60);
        // Untag clears exactly `len` bits at `offset`.
        assert_eq!(a.untag(2, 4).value(), 0xC0);
        assert_eq!(ExecutorAddr::new(u64::MAX).untag(64, 0), ExecutorAddr::NULL);
        assert_eq!(ExecutorAddr::new(u64::MAX).untag(0, 7).value(), u64::MAX);
        assert_eq!(
            ExecutorAddr::new(u64::MAX).untag(16, 48).value(),
            0x0000_FFFF_FFFF_FFFF
        );
    }

    #[test]
    fn ranges() {
        let r = range(0x1000, 0x2000);
        assert_eq!(r.size(), 0x1000);
        assert!(r.contains(ExecutorAddr::new(0x1000)));
        assert!(!r.contains(ExecutorAddr::new(0x2000)));
        assert!(r.overlaps(&range(0x1fff, 0x3000)));
        assert!(!r.overlaps(&range(0x2000, 0x3000)));
        assert!(!r.overlaps(&range(0x1500, 0x1500)));
        assert!(r.contains_range(&range(0x1000, 0x2000)));
        assert!(!r.contains_range(&range(0x1000, 0x2001)));
        assert!(range(5, 5).is_empty());
        assert!(range(6, 5).is_empty());
        assert_eq!(range(6, 5).size(), 0);
        assert_eq!(
            ExecutorAddrRange::from_size(ExecutorAddr::new(u64::MAX), 2),
            None
        );
    }
}
