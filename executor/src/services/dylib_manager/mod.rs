//! The dylib manager (LLVM 22 `SimpleExecutorDylibManager`, upstream orc-rt
//! `NativeDylibManager`; spec 13): opens libraries, resolves symbols in
//! them with the protocol's required/weak rules.
//!
//! LLVM's executor links libstdc++, libgcc_s and libm, so C++ and math
//! symbols resolve through the process handle without `-preload`. A Rust
//! executor does not link libstdc++; to stay a drop-in replacement, a miss
//! in the process handle loads those libraries once (globally) and retries.
//!
//! Libraries are the [`Os`] backend's: `dlopen` for [`RealOs`], the
//! library table of a [`SimulatedOs`](crate::os::SimulatedOs).

pub mod sps_ci;

use std::fmt;

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::{Error, ErrorKind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::os::{Library, Os, RealOs};
use orc_rt::sync::lock;

use super::types::{ExecutorSymbolDef, SYMBOL_FLAG_EXPORTED};

/// Libraries LLVM's executor has in its process image and ours may not.
const COMPAT_LIBRARIES: &[&[u8]] = &[b"libstdc++.so.6", b"libm.so.6", b"libgcc_s.so.1"];

/// The dylib-manager service.
pub struct DylibManager<O: Os = RealOs> {
    os: O,
    /// The address published for this instance, if the backend chooses it.
    instance: Option<ExecutorAddr>,
    process: O::Library,
    /// Libraries opened for the controller, in order, by handle token.
    opened: Mutex<Vec<(ExecutorAddr, O::Library)>>,
    /// `None` until the compat libraries have been tried.
    compat: Mutex<Option<Vec<O::Library>>>,
    /// Whether libstdc++'s standard streams were initialized for JIT'd code.
    iostreams_ready: AtomicBool,
    /// Whether libraries other than the process may be opened.
    open_libraries: AtomicBool,
}

impl<O: Os> fmt::Debug for DylibManager<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DylibManager")
            .field("opened", &lock(&self.opened).len())
            .finish()
    }
}

impl DylibManager {
    /// A dylib manager of this process; fails only if the process handle
    /// cannot be had.
    pub fn new() -> Result<Self, Error> {
        DylibManager::new_in(RealOs)
    }
}

impl<O: Os> DylibManager<O> {
    /// A dylib manager whose libraries come from `os`; fails only if the
    /// process handle cannot be had.
    pub fn new_in(os: O) -> Result<Self, Error> {
        Ok(DylibManager {
            instance: os.published_address(),
            process: os
                .open_process()
                .map_err(|m| Error::new(ErrorKind::Io, m))?,
            os,
            opened: Mutex::new(Vec::new()),
            compat: Mutex::new(None),
            iostreams_ready: AtomicBool::new(false),
            open_libraries: AtomicBool::new(true),
        })
    }

    /// The address the controller knows this manager by (the instance
    /// argument of its wrapper functions).
    pub fn instance(&self) -> ExecutorAddr {
        self.instance
            .unwrap_or_else(|| ExecutorAddr::from_ptr(self))
    }

    /// Allows or refuses opening libraries other than the process itself
    /// (and the compat libraries a process-handle miss loads).
    pub fn set_open_libraries(&self, allowed: bool) {
        self.open_libraries.store(allowed, Ordering::Relaxed);
    }

    /// The handle token of the process itself.
    pub fn process_handle(&self) -> ExecutorAddr {
        self.process.handle()
    }

    /// Opens `path` (empty = the process itself) and returns a handle token
    /// for [`resolve`](Self::resolve). `mode` is LLVM's (always 0; ignored).
    pub fn open(&self, path: &[u8], _mode: u64) -> Result<ExecutorAddr, Error> {
        if path.is_empty() {
            return Ok(self.process_handle());
        }
        if !self.open_libraries.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{}: opening libraries is disabled in this executor",
                    String::from_utf8_lossy(path)
                ),
            ));
        }
        let lib = self
            .os
            .open_library(path)
            .map_err(|m| Error::new(ErrorKind::NotFound, m))?;
        self.init_iostreams();
        let token = lib.handle();
        let mut opened = lock(&self.opened);
        if !opened.iter().any(|(t, _)| *t == token) {
            opened.push((token, lib));
        }
        // Else: already open; dropping `lib` gives back the extra reference.
        Ok(token)
    }

    /// Looks each `(name, required)` up in the library `handle`: found →
    /// `Some(addr, Exported)`; missing and not required → `Some(0, Exported)`;
    /// missing and required → `None`; an empty required name is an error.
    pub fn resolve(
        &self,
        handle: ExecutorAddr,
        symbols: &[(&[u8], bool)],
    ) -> Result<Vec<Option<ExecutorSymbolDef>>, Error> {
        let is_process = handle == self.process_handle();
        let opened = lock(&self.opened);
        let lib = if is_process {
            &self.process
        } else {
            match opened.iter().find(|(t, _)| *t == handle) {
                Some((_, lib)) => lib,
                None => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("{:#x} is not a handle of an open library", handle.value()),
                    ));
                }
            }
        };
        symbols
            .iter()
            .map(|&(name, required)| {
                if name.is_empty() && required {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "Required address for empty symbol \"\"",
                    ));
                }
                let mut found = lib.symbol(name);
                if found.is_none()
                    && is_process
                    && !name.is_empty()
                    && self.open_libraries.load(Ordering::Relaxed)
                    && self.load_compat()
                {
                    found = lib.symbol(name);
                }
                Ok(match (found, required) {
                    (Some(addr), _) => Some(ExecutorSymbolDef {
                        addr,
                        flags: SYMBOL_FLAG_EXPORTED,
                        target_flags: 0,
                    }),
                    (None, false) => Some(ExecutorSymbolDef {
                        addr: ExecutorAddr::NULL,
                        flags: SYMBOL_FLAG_EXPORTED,
                        target_flags: 0,
                    }),
                    (None, true) => None,
                })
            })
            .collect()
    }

    /// Loads the compat libraries the first time; true if this call loaded
    /// any (so a retry may now succeed).
    fn load_compat(&self) -> bool {
        let mut compat = lock(&self.compat);
        if compat.is_some() {
            return false;
        }
        let libs: Vec<O::Library> = COMPAT_LIBRARIES
            .iter()
            .filter_map(|name| self.os.open_library(name).ok())
            .collect();
        let any = !libs.is_empty();
        *compat = Some(libs);
        drop(compat);
        self.init_iostreams();
        any
    }

    /// Once libstdc++ is in the process, initializes its standard streams
    /// as a C++ executor's own static constructors would have (see
    /// [`Os::init_cxx_streams`]): JIT'd C++ using `std::cout` without the
    /// ORC runtime relies on that with LLVM's executor.
    fn init_iostreams(&self) {
        if self.iostreams_ready.load(Ordering::Acquire) {
            return;
        }
        let _serialize = lock(&self.compat);
        if self.iostreams_ready.load(Ordering::Acquire) {
            return;
        }
        if let Some(ctor) = self.process.symbol(b"_ZNSt8ios_base4InitC1Ev") {
            self.os.init_cxx_streams(ctor);
            self.iostreams_ready.store(true, Ordering::Release);
        }
    }

    /// Closes every library opened for the controller, newest first
    /// (session shutdown).
    pub fn close_all(&self) {
        let libs = std::mem::take(&mut *lock(&self.opened));
        for lib in libs.into_iter().rev() {
            drop(lib);
        }
        if let Some(compat) = lock(&self.compat).as_mut() {
            while let Some(lib) = compat.pop() {
                drop(lib);
            }
        }
    }

    /// The number of libraries open for the controller.
    pub fn open_count(&self) -> usize {
        lock(&self.opened).len()
    }
}

#[cfg(test)]
mod tests;
