//! Reads and writes of executor memory on the controller's behalf (LLVM 22
//! `__llvm_orc_bootstrap_mem_*` wrappers; spec 15).
//!
//! **Deviation from LLVM 22** (safer): writes must land inside a reservation
//! of the memory manager; a write into pages we made writable ourselves is a
//! plain copy, and every other access is fault-checked by the kernel, so a
//! bad address or a write into finalized code is an error result, not a
//! crash. Reads may target any mapped, readable address (the controller's
//! `-check` expressions read through GOT entries into libraries).
//!
//! Memory is the [`Os`] backend's, the one its memory managers use.

pub mod sps_ci;

use crate::os::{Os, RealOs};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::{Error, ErrorKind};
use std::sync::Arc;

use super::memory_manager::MemoryManager;
use super::shared_memory::SharedMemoryMapper;

/// Reads are copied in chunks of this size, so a huge range claim costs
/// memory only as far as it is backed by readable memory.
const READ_CHUNK: usize = 1 << 20;

/// The memory-access service.
#[derive(Debug)]
pub struct MemoryAccess<O: Os = RealOs> {
    os: O,
    memory_managers: Vec<Arc<MemoryManager<O>>>,
    shared_memory: Vec<Arc<SharedMemoryMapper<O>>>,
}

fn access_error(e: std::io::Error) -> Error {
    Error::with_source(ErrorKind::InvalidArgument, e)
}

impl MemoryAccess {
    /// Memory access to this process whose writes may target the
    /// reservations of these memory managers.
    pub fn new(memory_managers: Vec<Arc<MemoryManager>>) -> Self {
        MemoryAccess::new_in(RealOs, memory_managers)
    }
}

impl<O: Os> MemoryAccess<O> {
    /// Memory access to `os`'s memory whose writes may target the
    /// reservations of these memory managers (of the same backend).
    pub fn new_in(os: O, memory_managers: Vec<Arc<MemoryManager<O>>>) -> Self {
        MemoryAccess {
            os,
            memory_managers,
            shared_memory: Vec::new(),
        }
    }

    /// Also allows writes inside the reservations of `mapper`.
    pub fn with_shared_memory(mut self, mapper: Arc<SharedMemoryMapper<O>>) -> Self {
        self.shared_memory.push(mapper);
        self
    }

    /// The backend whose memory this service reads and writes.
    pub(crate) fn os(&self) -> &O {
        &self.os
    }

    pub(crate) fn region_for(&self, range: ExecutorAddrRange) -> Option<Arc<O::Mapping>> {
        self.memory_managers
            .iter()
            .find_map(|mm| mm.region_containing(range))
            .or_else(|| {
                self.shared_memory
                    .iter()
                    .find_map(|sm| sm.region_containing(range))
            })
    }

    /// Writes each `(addr, bytes)`; all targets are checked before any is
    /// written.
    pub fn write(&self, writes: &[(ExecutorAddr, &[u8])]) -> Result<(), Error> {
        let mut regions: Vec<Arc<O::Mapping>> = Vec::new();
        for &(addr, bytes) in writes {
            let range =
                ExecutorAddrRange::from_size(addr, bytes.len() as u64).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!(
                            "write at {:#x} wraps around the address space",
                            addr.value()
                        ),
                    )
                })?;
            match self.region_for(range) {
                Some(r) => {
                    if !regions.iter().any(|have| Arc::ptr_eq(have, &r)) {
                        regions.push(r);
                    }
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!(
                            "write of {} bytes at {:#x} is outside any reservation",
                            bytes.len(),
                            addr.value()
                        ),
                    ));
                }
            }
        }
        let refs: Vec<&O::Mapping> = regions.iter().map(|r| &**r).collect();
        self.os.write(&refs, writes).map_err(access_error)
    }

    /// Fills each buffer from memory at its address.
    pub fn read(&self, reads: &mut [(ExecutorAddr, &mut [u8])]) -> Result<(), Error> {
        self.os.read(reads).map_err(access_error)
    }

    /// Copies out the bytes of `range`.
    pub fn read_range(&self, range: ExecutorAddrRange) -> Result<Vec<u8>, Error> {
        if range.end < range.start {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "read range {:#x}..{:#x} ends before it starts",
                    range.start.value(),
                    range.end.value()
                ),
            ));
        }
        let mut out = Vec::new();
        let mut cur = range.start;
        while cur < range.end {
            let n = (range.end.value() - cur.value()).min(READ_CHUNK as u64) as usize;
            let old = out.len();
            out.resize(old + n, 0);
            self.os
                .read(&mut [(cur, &mut out[old..])])
                .map_err(access_error)?;
            cur += n as u64;
        }
        Ok(out)
    }

    /// Reads the NUL-terminated string at `addr` (without the NUL).
    pub fn read_c_string(&self, addr: ExecutorAddr) -> Result<Vec<u8>, Error> {
        self.os.read_c_string(addr).map_err(access_error)
    }
}

#[cfg(test)]
mod tests;
