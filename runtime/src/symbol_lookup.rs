//! Symbol lookup sets and results (upstream `SymbolLookupSet.h`,
//! `SymbolLookupFlags.h`, `SPSSymbolLookupSet.h`): what a controller asks a
//! dylib manager to resolve, and the answer, in the same order.
//!
//! On the wire a set is LLVM's `SPSRemoteSymbolLookupSet`,
//! `SPSSequence<SPSTuple<SPSString, bool>>` with `true` = required, and a
//! result is `SPSSequence<SPSOptional<SPSExecutorAddr>>`. Names are bytes
//! (SPS strings need not be UTF-8); a decoded set borrows them.
//!
//! ```
//! use orc_rt::symbol_lookup::{SymbolLookupFlags::*, SymbolLookupSet};
//! use orc_rt::{ExecutorAddr, sps};
//! let set: SymbolLookupSet<'_> = [("main", RequiredSymbol), ("weak_hook", WeaklyReferencedSymbol)]
//!     .into_iter()
//!     .collect();
//! let bytes = sps::to_vec(&set);
//! let decoded: SymbolLookupSet<'_> = sps::from_bytes(&bytes).unwrap();
//! let result = decoded.resolve(|name| (name == b"main").then(|| ExecutorAddr::new(0x1000)));
//! assert_eq!(result, [Some(ExecutorAddr::new(0x1000)), Some(ExecutorAddr::NULL)]);
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::addr::ExecutorAddr;
use crate::sps::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};

/// Whether a lookup must find a symbol (upstream `SymbolLookupFlags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SymbolLookupFlags {
    /// Missing is reported as an absent address.
    #[default]
    RequiredSymbol,
    /// Missing is reported as a present null address.
    WeaklyReferencedSymbol,
}

impl SymbolLookupFlags {
    /// True for [`RequiredSymbol`](Self::RequiredSymbol) (the wire bool).
    pub fn is_required(self) -> bool {
        self == SymbolLookupFlags::RequiredSymbol
    }

    /// The flags a wire bool stands for.
    pub fn from_required(required: bool) -> Self {
        if required {
            SymbolLookupFlags::RequiredSymbol
        } else {
            SymbolLookupFlags::WeaklyReferencedSymbol
        }
    }
}

/// One SPS bool: `true` = required (LLVM's
/// `RemoteSymbolLookupSetElement::Required`).
impl SpsEncode for SymbolLookupFlags {
    const FIXED_SIZE: Option<usize> = Some(1);
    fn encoded_size(&self) -> usize {
        1
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.is_required().encode(w)
    }
}

impl SpsDecode<'_> for SymbolLookupFlags {
    const MIN_ENCODED_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        bool::decode(r).map(SymbolLookupFlags::from_required)
    }
}

/// A name a lookup set can hold: text or bytes, borrowed or owned.
pub trait IntoSymbolName<'a> {
    /// The name's bytes.
    fn into_symbol_name(self) -> Cow<'a, [u8]>;
}

impl<'a> IntoSymbolName<'a> for &'a str {
    fn into_symbol_name(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl<'a> IntoSymbolName<'a> for String {
    fn into_symbol_name(self) -> Cow<'a, [u8]> {
        Cow::Owned(self.into_bytes())
    }
}

impl<'a> IntoSymbolName<'a> for &'a [u8] {
    fn into_symbol_name(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<'a> IntoSymbolName<'a> for Vec<u8> {
    fn into_symbol_name(self) -> Cow<'a, [u8]> {
        Cow::Owned(self)
    }
}

impl<'a> IntoSymbolName<'a> for Cow<'a, [u8]> {
    fn into_symbol_name(self) -> Cow<'a, [u8]> {
        self
    }
}

/// Names to look up, each with its flags, in order (upstream
/// `SymbolLookupSet`). Decoding borrows the names from the request bytes
/// for `'a`; a set built by hand may own them (`SymbolLookupSet<'static>`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SymbolLookupSet<'a> {
    entries: Vec<(Cow<'a, [u8]>, SymbolLookupFlags)>,
}

impl<'a> SymbolLookupSet<'a> {
    /// An empty set.
    pub fn new() -> Self {
        SymbolLookupSet::default()
    }

    /// An empty set with room for `n` names.
    pub fn with_capacity(n: usize) -> Self {
        SymbolLookupSet {
            entries: Vec::with_capacity(n),
        }
    }

    /// Appends a name (duplicates are kept: the result has one entry per
    /// request element).
    pub fn push(&mut self, name: impl IntoSymbolName<'a>, flags: SymbolLookupFlags) {
        self.entries.push((name.into_symbol_name(), flags));
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no names.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`th name and its flags.
    pub fn get(&self, i: usize) -> Option<(&[u8], SymbolLookupFlags)> {
        self.entries.get(i).map(|(n, f)| (&**n, *f))
    }

    /// Names and flags, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], SymbolLookupFlags)> + '_ {
        self.entries.iter().map(|(n, f)| (&**n, *f))
    }

    /// Looks every name up with `find` and answers by the lookup rules
    /// (upstream `NativeDylibManager`, spec 13): found → `Some(addr)`;
    /// missing and required → `None`; missing and weakly referenced →
    /// `Some(ExecutorAddr::NULL)`. Missing is not an error.
    pub fn resolve(
        &self,
        mut find: impl FnMut(&[u8]) -> Option<ExecutorAddr>,
    ) -> SymbolLookupResult {
        self.iter()
            .map(|(name, flags)| match find(name) {
                Some(addr) => Some(addr),
                None if flags.is_required() => None,
                None => Some(ExecutorAddr::NULL),
            })
            .collect()
    }
}

impl<'a, N: IntoSymbolName<'a>> FromIterator<(N, SymbolLookupFlags)> for SymbolLookupSet<'a> {
    fn from_iter<I: IntoIterator<Item = (N, SymbolLookupFlags)>>(iter: I) -> Self {
        let mut set = SymbolLookupSet::new();
        set.extend(iter);
        set
    }
}

impl<'a, N: IntoSymbolName<'a>> Extend<(N, SymbolLookupFlags)> for SymbolLookupSet<'a> {
    fn extend<I: IntoIterator<Item = (N, SymbolLookupFlags)>>(&mut self, iter: I) {
        for (name, flags) in iter {
            self.push(name, flags);
        }
    }
}

impl fmt::Debug for SymbolLookupSet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(n, flags)| (String::from_utf8_lossy(n), flags)),
            )
            .finish()
    }
}

/// `SPSSequence<SPSTuple<SPSString, bool>>`.
impl SpsEncode for SymbolLookupSet<'_> {
    fn encoded_size(&self) -> usize {
        self.entries.encoded_size()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.entries.encode(w)
    }
}

impl<'de: 'a, 'a> SpsDecode<'de> for SymbolLookupSet<'a> {
    const MIN_ENCODED_SIZE: usize = 8;
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        Ok(SymbolLookupSet {
            entries: Vec::decode(r)?,
        })
    }
}

/// One answer per name of a [`SymbolLookupSet`], in the same order
/// (upstream `SymbolLookupResult`): `None` = a required symbol was not
/// found; `Some(NULL)` = a weakly referenced one was not. On the wire
/// `SPSSequence<SPSOptional<SPSExecutorAddr>>`, which `Vec<Option<_>>`
/// already is.
pub type SymbolLookupResult = Vec<Option<ExecutorAddr>>;

#[cfg(test)]
mod tests {
    use super::SymbolLookupFlags::*;
    use super::*;
    use crate::sps;

    // Upstream `SymbolLookupSetTest.DefaultConstructedIsEmpty`.
    #[test]
    fn default_is_empty() {
        let s = SymbolLookupSet::new();
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert_eq!(s.iter().next(), None);
    }

    // Upstream `SymbolLookupSetTest.InitializerList` and `PushBackAndIterate`.
    #[test]
    fn built_in_order() {
        let s: SymbolLookupSet<'_> = [("foo", RequiredSymbol), ("bar", WeaklyReferencedSymbol)]
            .into_iter()
            .collect();
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(0), Some((&b"foo"[..], RequiredSymbol)));
        assert_eq!(s.get(1), Some((&b"bar"[..], WeaklyReferencedSymbol)));
        let mut t = SymbolLookupSet::with_capacity(2);
        t.push(String::from("foo"), RequiredSymbol);
        t.push(b"bar".to_vec(), WeaklyReferencedSymbol);
        assert_eq!(t, s);
        let names: Vec<&[u8]> = t.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [b"foo".as_slice(), b"bar"]);
    }

    // Upstream `SPSSymbolLookupSetTest.SymbolLookupFlagsWireFormat`.
    #[test]
    fn flags_are_the_required_bool() {
        assert_eq!(sps::to_vec(&RequiredSymbol), [1]);
        assert_eq!(sps::to_vec(&WeaklyReferencedSymbol), [0]);
        for f in [RequiredSymbol, WeaklyReferencedSymbol] {
            assert_eq!(
                sps::from_bytes::<SymbolLookupFlags>(&sps::to_vec(&f)),
                Ok(f)
            );
        }
        assert!(sps::from_bytes::<SymbolLookupFlags>(&[2]).is_err());
    }

    // Upstream `SPSSymbolLookupSetTest.SymbolLookupSetSerialization`: the
    // bytes are LLVM's `SPSRemoteSymbolLookupSet`, and decoding borrows.
    #[test]
    fn sets_round_trip_with_llvms_bytes() {
        let empty = SymbolLookupSet::new();
        assert_eq!(sps::to_vec(&empty), [0; 8]);
        let s: SymbolLookupSet<'_> = [("foo", RequiredSymbol), ("bar", WeaklyReferencedSymbol)]
            .into_iter()
            .collect();
        let bytes = sps::to_vec(&s);
        assert_eq!(bytes, sps::to_vec(&vec![("foo", true), ("bar", false)]));
        let back: SymbolLookupSet<'_> = sps::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        let (name, _) = back.get(0).unwrap();
        assert!(bytes.as_ptr_range().contains(&name.as_ptr()), "borrowed");
    }

    // Upstream `SymbolLookupResultTest.*` and
    // `SPSSymbolLookupSetTest.SymbolLookupResultSerialization`.
    #[test]
    fn results_follow_the_lookup_rules_and_round_trip() {
        let s: SymbolLookupSet<'_> = [
            ("found", RequiredSymbol),
            ("missing_required", RequiredSymbol),
            ("missing_weak", WeaklyReferencedSymbol),
            ("found", WeaklyReferencedSymbol),
        ]
        .into_iter()
        .collect();
        let r = s.resolve(|n| (n == b"found").then_some(ExecutorAddr::new(0x42)));
        let x = ExecutorAddr::new(0x42);
        assert_eq!(r, [Some(x), None, Some(ExecutorAddr::NULL), Some(x)]);
        let bytes = sps::to_vec(&r);
        assert_eq!(sps::from_bytes::<SymbolLookupResult>(&bytes).unwrap(), r);
        assert_eq!(sps::to_vec(&SymbolLookupResult::new()), [0; 8]);
    }
}
