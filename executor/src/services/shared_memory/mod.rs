//! The shared-memory mapper service (LLVM 22
//! `ExecutorSharedMemoryMapperService`, for `llvm-jitlink
//! -use-memmgr=shared`): reservations are POSIX shared-memory objects that
//! the controller maps too and writes the contents through; initialize only
//! sets protections and runs the alloc actions.
//!
//! **Deviation from LLVM 22** (safer): segments must lie inside the named
//! reservation, and an unknown reservation base is an error instead of a
//! failed `munmap`.
//!
//! As LLVM 22: deinitializing a key that names no initialized allocation
//! does nothing and succeeds. LLVM's memory manager relies on it: after a
//! failed link (`clang-repl --use-shared-memory`, an undefined symbol) it
//! deinitializes the allocation it never got to initialize.

pub mod sps_ci;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::os::{Mapping, Os, RealOs};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::{Error, ErrorKind};

use super::alloc_actions::{ActionCaller, join_errors};
use super::types::{AllocAction, AllocActionPair, AllocGroup, MemProt};
use orc_rt::sync::lock;

/// One segment of a shared-memory initialize request: protection, address,
/// size (the contents are already in place).
pub type SharedSegment = (AllocGroup, ExecutorAddr, u64);

struct Reservation<O: Os> {
    region: Arc<O::Mapping>,
    name: String,
    /// Keys of the initialized allocations in it, in order.
    allocations: Vec<ExecutorAddr>,
}

struct State<O: Os> {
    reservations: BTreeMap<u64, Reservation<O>>,
    /// Dealloc actions by allocation key.
    allocations: BTreeMap<u64, Vec<AllocAction>>,
}

/// The shared-memory mapper service.
pub struct SharedMemoryMapper<O: Os = RealOs> {
    os: O,
    /// The address published for this instance, if the backend chooses it.
    instance: Option<ExecutorAddr>,
    state: Mutex<State<O>>,
    actions: ActionCaller,
    counter: AtomicU64,
    max_reservation: u64,
}

impl<O: Os> fmt::Debug for SharedMemoryMapper<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("SharedMemoryMapper")
            .field("reservations", &st.reservations.len())
            .field("allocations", &st.allocations.len())
            .finish()
    }
}

fn service_error(message: String) -> Error {
    Error::new(ErrorKind::Service, message)
}

impl SharedMemoryMapper {
    /// A mapper of this process's shared memory whose alloc actions are
    /// called through `actions`.
    pub fn new(actions: ActionCaller) -> Self {
        SharedMemoryMapper::new_in(RealOs, actions)
    }
}

impl<O: Os> SharedMemoryMapper<O> {
    /// A mapper whose shared memory comes from `os` and whose alloc actions
    /// are called through `actions`.
    pub fn new_in(os: O, actions: ActionCaller) -> Self {
        SharedMemoryMapper {
            instance: os.published_address(),
            os,
            state: Mutex::new(State {
                reservations: BTreeMap::new(),
                allocations: BTreeMap::new(),
            }),
            actions,
            counter: AtomicU64::new(0),
            max_reservation: u64::MAX,
        }
    }

    /// The address the controller knows this mapper by (the instance
    /// argument of its wrapper functions).
    pub fn instance(&self) -> ExecutorAddr {
        self.instance
            .unwrap_or_else(|| ExecutorAddr::from_ptr(self))
    }

    /// Refuses reservations larger than `bytes`.
    pub fn with_max_reservation(mut self, bytes: u64) -> Self {
        self.max_reservation = bytes;
        self
    }

    /// Creates and maps a shared-memory object of `size` bytes; returns its
    /// base and the name the controller opens it by.
    pub fn reserve(&self, size: u64) -> Result<(ExecutorAddr, String), Error> {
        if size == 0 || size > self.max_reservation {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot reserve {size:#x} bytes of shared memory"),
            ));
        }
        // A name may be taken by an object a dead process of the same pid
        // left behind: the next one is tried, a few times.
        let mut attempts = 0;
        let (name, region) = loop {
            let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
            let name = self.os.shared_memory_name(n);
            match self.os.map_shared(&name, size) {
                Ok(region) => break (name, region),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(e) => return Err(Error::new(ErrorKind::Io, crate::os::error_text(&e))),
            }
        };
        let base = region.range().start;
        lock(&self.state).reservations.insert(
            base.value(),
            Reservation {
                region: Arc::new(region),
                name: name.clone(),
                allocations: Vec::new(),
            },
        );
        Ok((base, name))
    }

    /// Protects the segments (inside `reservation`), runs the finalize
    /// actions and records the dealloc actions; returns the allocation's key
    /// (its lowest segment address).
    pub fn initialize(
        &self,
        reservation: ExecutorAddr,
        segments: &[SharedSegment],
        actions: &[AllocActionPair],
    ) -> Result<ExecutorAddr, Error> {
        if segments.is_empty() {
            return Err(service_error("Finalization request is empty".into()));
        }
        let region = {
            let st = lock(&self.state);
            let r = st.reservations.get(&reservation.value()).ok_or_else(|| {
                service_error(format!(
                    "{:#x} is not a shared-memory reservation",
                    reservation.value()
                ))
            })?;
            r.region.clone()
        };
        let mut key = ExecutorAddr::new(u64::MAX);
        for &(_, addr, size) in segments {
            let inside = ExecutorAddrRange::from_size(addr, size)
                .is_some_and(|range| region.range().contains_range(&range));
            if !inside {
                return Err(service_error(format!(
                    "segment {:#x} of size {size:#x} is outside the reservation at {:#x}",
                    addr.value(),
                    reservation.value()
                )));
            }
            key = key.min(addr);
        }
        for &(group, addr, size) in segments {
            let prot = group.prot();
            region
                .protect(addr, size, prot)
                .map_err(|e| Error::new(ErrorKind::Io, crate::os::error_text(&e)))?;
            if prot.contains(MemProt::EXEC) {
                region
                    .flush_icache(addr, size)
                    .map_err(|e| Error::new(ErrorKind::Io, crate::os::error_text(&e)))?;
            }
        }
        let deallocs = self.actions.run_finalize(actions)?;
        let mut st = lock(&self.state);
        match st.reservations.get_mut(&reservation.value()) {
            Some(r) if Arc::ptr_eq(&r.region, &region) => {
                r.allocations.push(key);
                st.allocations.insert(key.value(), deallocs);
                Ok(key)
            }
            _ => {
                drop(st);
                let undo = self.actions.run_dealloc(deallocs).err();
                Err(join_errors(
                    std::iter::once(service_error(format!(
                        "the reservation at {:#x} was released during initialization",
                        reservation.value()
                    )))
                    .chain(undo),
                )
                .expect("one error"))
            }
        }
    }

    /// Runs and forgets the dealloc actions of these allocations, last
    /// first. A key that names no initialized allocation is skipped, as
    /// LLVM 22 does (see the module docs).
    pub fn deinitialize(&self, keys: &[ExecutorAddr]) -> Result<(), Error> {
        let mut errors = Vec::new();
        for &key in keys.iter().rev() {
            let deallocs = {
                let mut st = lock(&self.state);
                let Some(deallocs) = st.allocations.remove(&key.value()) else {
                    tracing::debug!(
                        target: "orc_executor::services",
                        "deinitialize: {:#x} is not an initialized shared-memory allocation; nothing to do",
                        key.value()
                    );
                    continue;
                };
                for r in st.reservations.values_mut() {
                    r.allocations.retain(|a| *a != key);
                }
                deallocs
            };
            if let Err(e) = self.actions.run_dealloc(deallocs) {
                errors.push(e);
            }
        }
        join_errors(errors).map_or(Ok(()), Err)
    }

    /// Deinitializes what is left in each reservation, then unmaps it and
    /// unlinks its object.
    pub fn release(&self, bases: &[ExecutorAddr]) -> Result<(), Error> {
        let mut errors = Vec::new();
        for &base in bases {
            let Some(r) = lock(&self.state).reservations.remove(&base.value()) else {
                errors.push(service_error(format!(
                    "{:#x} is not a shared-memory reservation",
                    base.value()
                )));
                continue;
            };
            if let Err(e) = self.deinitialize(&r.allocations) {
                errors.push(e);
            }
            tracing::debug!(target: "orc_executor::services", "releasing shared memory {}", r.name);
            drop(r.region);
        }
        join_errors(errors).map_or(Ok(()), Err)
    }

    /// Releases every reservation (session shutdown).
    pub fn release_all(&self) -> Result<(), Error> {
        let bases: Vec<ExecutorAddr> = lock(&self.state)
            .reservations
            .keys()
            .map(|&b| ExecutorAddr::new(b))
            .collect();
        self.release(&bases)
    }

    /// The number of live reservations.
    pub fn reservation_count(&self) -> usize {
        lock(&self.state).reservations.len()
    }

    /// The mapping of the reservation containing all of `range`.
    pub(crate) fn region_containing(&self, range: ExecutorAddrRange) -> Option<Arc<O::Mapping>> {
        let st = lock(&self.state);
        let (_, r) = st.reservations.range(..=range.start.value()).next_back()?;
        r.region
            .range()
            .contains_range(&range)
            .then(|| r.region.clone())
    }
}

#[cfg(test)]
mod tests;
