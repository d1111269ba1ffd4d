//! The dylib manager's SPS controller interface: its wrapper functions under
//! LLVM 22's bootstrap names and signatures (protocol 5.3).

use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperTable};

use super::DylibManager;
use crate::services::{check_instance, names};

/// The dylib manager's wrapper functions. Opening a library runs its
/// constructors (a dispatched task); a lookup never blocks (inline).
pub fn wrapper_functions(dm: &Arc<DylibManager>) -> WrapperTable {
    let mut table = WrapperTable::new();
    let d = dm.clone();
    table.add(
        names::DYLIB_MANAGER_OPEN,
        WrapperEntry::from_fn(move |args| {
            // `Expected<Addr>(Addr instance, string path, u64 mode)`.
            WrapperFunction::handle_sps(
                args,
                |(instance, path, mode): (ExecutorAddr, &[u8], u64)| {
                    check_instance(instance, &*d, "dylib manager")?;
                    d.open(path, mode)
                },
            )
        }),
    );
    let d = dm.clone();
    table.add(
        names::DYLIB_MANAGER_RESOLVE,
        WrapperEntry::from_fn(move |args| {
            // `Expected<sequence<optional<ExecutorSymbolDef>>>(Addr handle,
            // sequence<tuple<string, bool>>)`.
            WrapperFunction::handle_sps(
                args,
                |(handle, symbols): (ExecutorAddr, Vec<(&[u8], bool)>)| d.resolve(handle, &symbols),
            )
        })
        .inline(),
    );
    table
}
