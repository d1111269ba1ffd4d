//! The dylib manager's SPS controller interface: its wrapper functions under
//! LLVM 22's bootstrap names and signatures (protocol 5.3), and under LLVM
//! main's `orc_rt_ci_sps_NativeDylibManager_*` names with its signatures
//! (protocol 5.8: the lookup takes the instance and answers bare addresses).

use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperTable};

use super::DylibManager;
use crate::os::Os;
use crate::services::{check_instance, ci_names, names};

/// The dylib manager's wrapper functions. Opening a library runs its
/// constructors (a dispatched task); a lookup never blocks (inline).
pub fn wrapper_functions<O: Os>(dm: &Arc<DylibManager<O>>) -> WrapperTable {
    let mut table = WrapperTable::new();
    let d = dm.clone();
    table.add(
        names::DYLIB_MANAGER_OPEN,
        WrapperEntry::from_fn(move |args| {
            // `Expected<Addr>(Addr instance, string path, u64 mode)`.
            WrapperFunction::handle_sps(
                args,
                |(instance, path, mode): (ExecutorAddr, &[u8], u64)| {
                    check_instance(instance, d.instance(), "dylib manager")?;
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

/// The dylib manager's wrapper functions under LLVM main's names: `load`
/// (`Expected<Addr>(Addr instance, string path, u64 mode)`; orc-rt's own
/// controller sends no mode, and trailing arguments are ignored, so both
/// forms are served) and `lookup` (`Expected<sequence<optional<Addr>>>(Addr
/// instance, Addr handle, sequence<tuple<string, bool>>)`: a missing
/// required symbol is an empty optional, a missing weak one address 0).
pub fn ci_wrapper_functions<O: Os>(dm: &Arc<DylibManager<O>>) -> WrapperTable {
    let mut table = WrapperTable::new();
    let d = dm.clone();
    table.add(
        ci_names::DYLIB_MANAGER_LOAD,
        WrapperEntry::from_fn(move |args| {
            WrapperFunction::handle_sps(args, |(instance, path): (ExecutorAddr, &[u8])| {
                check_instance(instance, d.instance(), "dylib manager")?;
                d.open(path, 0)
            })
        }),
    );
    let d = dm.clone();
    table.add(
        ci_names::DYLIB_MANAGER_LOOKUP,
        WrapperEntry::from_fn(move |args| {
            WrapperFunction::handle_sps(
                args,
                |(instance, handle, symbols): (ExecutorAddr, ExecutorAddr, Vec<(&[u8], bool)>)| {
                    check_instance(instance, d.instance(), "dylib manager")?;
                    let found = d.resolve(handle, &symbols)?;
                    Ok::<_, orc_rt::error::Error>(
                        found
                            .into_iter()
                            .map(|def| def.map(|d| d.addr))
                            .collect::<Vec<Option<ExecutorAddr>>>(),
                    )
                },
            )
        })
        .inline(),
    );
    table
}
