//! `SpsAs<T>`: a Rust type that travels as the SPS type `T` names, so a
//! signature written with owned types (`fn(String) -> u64`) can be handled
//! with borrowed views (`&str`, `&[u8]`) or called with them (upstream: one
//! SPS tag, many value types, e.g. `span<const char>` for `SPSString`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::ExecutorSpan;
use super::memory::{AllocAction, AllocActionPair, AllocGroup, MemLifetime, MemProt};
use crate::addr::{ExecutorAddr, ExecutorAddrRange};
use crate::error::Error;
use crate::symbol_lookup::{SymbolLookupFlags, SymbolLookupSet};
use crate::wrapper::WrapperFunctionBuffer;

/// `Self` has the same SPS bytes as `T`: it decodes from what a `T`
/// encodes to, and encodes to what a `T` would. A marker: the encoding
/// itself is `Self`'s [`SpsEncode`](super::SpsEncode) /
/// [`SpsDecode`](super::SpsDecode).
///
/// Every type is its own view; the byte views of `SPSString` and
/// `SPSSequence<char>` are `&str`, `Cow<str>`, `&[u8]`, `Cow<[u8]>`,
/// `String` and `Vec<u8>` (interchangeable, as upstream's are); sequences,
/// options, results, maps and tuples are views element by element. A
/// `#[derive(Sps)]` struct is a view of itself once you say so:
/// `impl SpsAs<MyStruct> for MyStruct {}`.
pub trait SpsAs<T: ?Sized> {}

macro_rules! reflexive {
    ($($ty:ty),* $(,)?) => {$( impl SpsAs<$ty> for $ty {} )*};
}
reflexive!(
    (),
    bool,
    u8,
    i8,
    u16,
    i16,
    u32,
    i32,
    u64,
    i64,
    usize,
    ExecutorAddr,
    ExecutorAddrRange,
    WrapperFunctionBuffer,
    MemProt,
    MemLifetime,
    AllocGroup,
    AllocAction,
    AllocActionPair,
    SymbolLookupFlags,
);

impl<T> SpsAs<ExecutorSpan<T>> for ExecutorSpan<T> {}
impl<T> SpsAs<ExecutorAddrRange> for ExecutorSpan<T> {}
impl<'a, 'b> SpsAs<SymbolLookupSet<'b>> for SymbolLookupSet<'a> {}

/// The byte views of a string or byte sequence, each a view of both.
macro_rules! byte_views {
    ($($ty:ty),* $(,)?) => {$(
        impl SpsAs<String> for $ty {}
        impl SpsAs<Vec<u8>> for $ty {}
    )*};
}
byte_views!(String, &str, Cow<'_, str>, &[u8], Cow<'_, [u8]>);
impl SpsAs<String> for Vec<u8> {}
impl SpsAs<WrapperFunctionBuffer> for &[u8] {}
impl SpsAs<WrapperFunctionBuffer> for Cow<'_, [u8]> {}
impl SpsAs<Vec<u8>> for WrapperFunctionBuffer {}

impl<T, A: SpsAs<T>> SpsAs<Vec<T>> for Vec<A> {}
impl<T, A: SpsAs<T>> SpsAs<Option<T>> for Option<A> {}
impl<T, A: SpsAs<T>> SpsAs<Result<T, Error>> for Result<A, Error> {}
impl<K, V, KA: SpsAs<K>, VA: SpsAs<V>> SpsAs<BTreeMap<K, V>> for BTreeMap<KA, VA> {}
impl<K, V, S, KA: SpsAs<K>, VA: SpsAs<V>, SA> SpsAs<HashMap<K, V, S>> for HashMap<KA, VA, SA> {}

macro_rules! tuple_views {
    ($(($($t:ident $a:ident),*))*) => {$(
        impl<$($t, $a: SpsAs<$t>),*> SpsAs<($($t,)*)> for ($($a,)*) {}
    )*};
}
tuple_views! {
    (T1 A1)
    (T1 A1, T2 A2)
    (T1 A1, T2 A2, T3 A3)
    (T1 A1, T2 A2, T3 A3, T4 A4)
    (T1 A1, T2 A2, T3 A3, T4 A4, T5 A5)
    (T1 A1, T2 A2, T3 A3, T4 A4, T5 A5, T6 A6)
    (T1 A1, T2 A2, T3 A3, T4 A4, T5 A5, T6 A6, T7 A7)
    (T1 A1, T2 A2, T3 A3, T4 A4, T5 A5, T6 A6, T7 A7, T8 A8)
}
