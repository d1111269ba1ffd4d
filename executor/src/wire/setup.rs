//! The Setup message (upstream `SimpleRemoteEPCExecutorInfo`): what the
//! executor tells the controller before anything else.

use std::collections::BTreeMap;

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::SymbolTable;
use orc_rt::sps::{self, DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};

/// The executor's description, sent once as the Setup payload.
///
/// SPS type: `tuple<string, u64, map<string, sequence<char>>,
/// map<string, ExecutorAddr>>`. Maps are kept sorted so that the bytes we
/// send are deterministic; the controller treats them as maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupInfo {
    /// The process's target triple, e.g. `x86_64-pc-linux-gnu`.
    pub target_triple: String,
    /// Allocation granularity of the memory manager.
    pub page_size: u64,
    /// Named byte values (empty for LLVM 22 on Linux).
    pub bootstrap_map: BTreeMap<String, Vec<u8>>,
    /// Named executor addresses: services, instances, wrapper functions.
    pub bootstrap_symbols: BTreeMap<String, ExecutorAddr>,
}

impl SetupInfo {
    /// The Setup payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        sps::to_vec(self)
    }

    /// Parses a Setup payload (the controller side, and tests).
    pub fn from_bytes(bytes: &[u8]) -> Result<SetupInfo, DecodeError> {
        sps::from_bytes(bytes)
    }
}

/// The Setup payload for this content, encoded straight from the session's
/// tables: the bytes [`SetupInfo::to_bytes`] gives, without copying every
/// name into maps of its own first (session start-up is a measured figure).
pub fn setup_payload(
    target_triple: &str,
    page_size: u64,
    values: &BTreeMap<String, String>,
    symbols: &SymbolTable,
) -> Vec<u8> {
    // A value's `sequence<char>` is encoded as a string is.
    sps::to_vec(&(target_triple, page_size, values, symbols))
}

impl SpsEncode for SetupInfo {
    fn encoded_size(&self) -> usize {
        self.target_triple.encoded_size()
            + 8
            + self.bootstrap_map.encoded_size()
            + self.bootstrap_symbols.encoded_size()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.target_triple.encode(w)?;
        self.page_size.encode(w)?;
        self.bootstrap_map.encode(w)?;
        self.bootstrap_symbols.encode(w)
    }
}

impl SpsDecode<'_> for SetupInfo {
    const MIN_ENCODED_SIZE: usize = 32;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SetupInfo {
            target_triple: String::decode(r)?,
            page_size: u64::decode(r)?,
            bootstrap_map: BTreeMap::decode(r)?,
            bootstrap_symbols: BTreeMap::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_minimal_setup() {
        let mut info = SetupInfo {
            target_triple: "x86_64-pc-linux-gnu".into(),
            page_size: 4096,
            ..SetupInfo::default()
        };
        info.bootstrap_symbols
            .insert("f".into(), ExecutorAddr::new(0x1122));
        let mut expected = Vec::new();
        expected.extend_from_slice(&19u64.to_le_bytes());
        expected.extend_from_slice(b"x86_64-pc-linux-gnu");
        expected.extend_from_slice(&4096u64.to_le_bytes());
        expected.extend_from_slice(&0u64.to_le_bytes()); // empty bootstrap map
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.push(b'f');
        expected.extend_from_slice(&0x1122u64.to_le_bytes());
        assert_eq!(info.to_bytes(), expected);
        assert_eq!(SetupInfo::from_bytes(&expected).unwrap(), info);
    }

    #[test]
    fn the_payload_from_the_tables_is_the_setup_info_bytes() {
        let mut symbols = SymbolTable::new();
        symbols
            .add_unique([("b", ExecutorAddr::new(2)), ("a", ExecutorAddr::new(1))])
            .unwrap();
        let values = BTreeMap::from([("k".to_owned(), "v1".to_owned())]);
        let info = SetupInfo {
            target_triple: "x86_64-pc-linux-gnu".into(),
            page_size: 4096,
            bootstrap_map: BTreeMap::from([("k".to_owned(), b"v1".to_vec())]),
            bootstrap_symbols: BTreeMap::from([
                ("a".to_owned(), ExecutorAddr::new(1)),
                ("b".to_owned(), ExecutorAddr::new(2)),
            ]),
        };
        let bytes = setup_payload("x86_64-pc-linux-gnu", 4096, &values, &symbols);
        assert_eq!(bytes, info.to_bytes());
        assert_eq!(SetupInfo::from_bytes(&bytes).unwrap(), info);
    }

    #[test]
    fn duplicate_symbol_names_do_not_decode() {
        let mut bytes = sps::to_vec(&("t", 4096u64, 0u64));
        bytes.extend_from_slice(&sps::to_vec(&vec![
            ("a", ExecutorAddr::new(1)),
            ("a", ExecutorAddr::new(2)),
        ]));
        assert_eq!(
            SetupInfo::from_bytes(&bytes).unwrap_err(),
            DecodeError::DuplicateKey
        );
    }

    proptest! {
        #[test]
        fn setup_round_trips(
            triple in "[a-z0-9_-]{0,30}",
            page_size in any::<u64>(),
            map in proptest::collection::btree_map("[a-z.]{0,12}", proptest::collection::vec(any::<u8>(), 0..20), 0..4),
            syms in proptest::collection::btree_map("[A-Za-z_]{0,40}", any::<u64>().prop_map(ExecutorAddr::new), 0..40),
        ) {
            let info = SetupInfo { target_triple: triple, page_size, bootstrap_map: map, bootstrap_symbols: syms };
            let bytes = info.to_bytes();
            prop_assert_eq!(bytes.len(), info.encoded_size());
            prop_assert_eq!(SetupInfo::from_bytes(&bytes).unwrap(), info);
        }
    }
}
