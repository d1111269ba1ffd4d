//! The memory manager for JIT'd code (LLVM 22 `SimpleExecutorMemoryManager`,
//! upstream orc-rt `SimpleNativeMemoryMap`; spec 12): reserve address
//! space, initialize regions in it (copy, zero-fill, protect, run finalize
//! actions), deinitialize them (dealloc actions), release reservations.
//!
//! **Deviation from LLVM 22** (safer): every segment of an initialize
//! request is checked to lie inside one reservation, and the region not to
//! overlap an initialized or in-progress one, *before* any byte is written.
//!
//! As LLVM 22: a reservation of 0 bytes succeeds with address 0 (LLVM maps
//! nothing and records an empty reservation there; `lli` asks for one at
//! shutdown), and releasing it succeeds once.

pub mod sps_ci;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::{Error, ErrorKind};
use std::sync::{Arc, Mutex};

use crate::sys::memory::{Prot, Region};
use orc_rt::sync::lock;

use super::alloc_actions::{ActionCaller, join_errors};
use super::types::{AllocAction, FinalizeRequest, MemLifetime};

/// One reservation: its mapping and the regions initialized in it.
struct Slab {
    region: Arc<Region>,
    /// Initialized (or being initialized) regions, by start address.
    regions: BTreeMap<u64, RegionInfo>,
}

struct RegionInfo {
    size: u64,
    /// `None` while its initialize is still running.
    dealloc: Option<Vec<AllocAction>>,
}

/// The memory manager's state, shared by its wrapper functions, the memory
/// access service (which may only write inside reservations) and the
/// session's shutdown.
pub struct MemoryManager {
    slabs: Mutex<BTreeMap<u64, Slab>>,
    actions: ActionCaller,
    page_size: u64,
    /// The largest reservation granted.
    max_reservation: u64,
    /// An empty reservation at address 0 is live (LLVM 22 keeps one such
    /// entry, however many times it is reserved).
    zero_reserved: AtomicBool,
}

impl fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryManager")
            .field("reservations", &lock(&self.slabs).len())
            .finish()
    }
}

fn service_error(message: String) -> Error {
    Error::new(ErrorKind::Service, message)
}

fn release_unknown(base: ExecutorAddr) -> Error {
    service_error(format!(
        "In release, {:#x} is not part of any reserved address range",
        base.value()
    ))
}

fn fmt_range(r: ExecutorAddrRange) -> String {
    format!("{:#x} -- {:#x}", r.start.value(), r.end.value())
}

impl MemoryManager {
    /// A memory manager whose alloc actions are called through `actions`.
    pub fn new(actions: ActionCaller) -> Self {
        MemoryManager {
            slabs: Mutex::new(BTreeMap::new()),
            actions,
            page_size: crate::sys::page_size(),
            max_reservation: u64::MAX,
            zero_reserved: AtomicBool::new(false),
        }
    }

    /// Refuses reservations larger than `bytes` (default: only the OS
    /// limits them).
    pub fn with_max_reservation(mut self, bytes: u64) -> Self {
        self.max_reservation = bytes;
        self
    }

    /// Maps `size` bytes (a multiple of the page size) read+write and
    /// returns the base. A size of 0 maps nothing and returns address 0, as
    /// LLVM 22's executor does.
    pub fn reserve(&self, size: u64) -> Result<ExecutorAddr, Error> {
        if size == 0 {
            self.zero_reserved.store(true, Ordering::Relaxed);
            return Ok(ExecutorAddr::NULL);
        }
        if !size.is_multiple_of(self.page_size) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "reserve size {size:#x} is not a multiple of the page size {:#x}",
                    self.page_size
                ),
            ));
        }
        if size > self.max_reservation {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "reserve of {size:#x} bytes exceeds this executor's limit of {:#x}",
                    self.max_reservation
                ),
            ));
        }
        // LLVM reports the OS error's text alone ("Cannot allocate memory").
        let region =
            Region::map(size).map_err(|e| Error::new(ErrorKind::Io, crate::sys::error_text(&e)))?;
        let base = region.range().start;
        lock(&self.slabs).insert(
            base.value(),
            Slab {
                region: Arc::new(region),
                regions: BTreeMap::new(),
            },
        );
        Ok(base)
    }

    /// The slab whose reservation contains all of `range`.
    fn slab_containing(
        slabs: &mut BTreeMap<u64, Slab>,
        range: ExecutorAddrRange,
    ) -> Option<&mut Slab> {
        let (_, slab) = slabs.range_mut(..=range.start.value()).next_back()?;
        slab.region.range().contains_range(&range).then_some(slab)
    }

    /// Copies, zero-fills and protects the request's segments, runs its
    /// finalize actions, and records its dealloc actions. Returns the key
    /// for [`deinitialize`](Self::deinitialize): the lowest segment address.
    pub fn initialize(&self, req: &FinalizeRequest<'_>) -> Result<ExecutorAddr, Error> {
        if req.segments.is_empty() {
            return Err(service_error(if req.actions.is_empty() {
                "Finalization request is empty".into()
            } else {
                "Finalization actions attached to empty finalization request".into()
            }));
        }
        let mut span: Option<ExecutorAddrRange> = None;
        for seg in &req.segments {
            if seg.content.len() as u64 > seg.size {
                return Err(service_error(format!(
                    "Segment {:#x} content size ({:#x} bytes) exceeds segment size ({:#x} bytes)",
                    seg.addr.value(),
                    seg.content.len(),
                    seg.size
                )));
            }
            let range = ExecutorAddrRange::from_size(seg.addr, seg.size).ok_or_else(|| {
                service_error(format!(
                    "Segment {:#x} of size {:#x} wraps around the address space",
                    seg.addr.value(),
                    seg.size
                ))
            })?;
            span = Some(match span {
                None => range,
                Some(s) => ExecutorAddrRange::new(s.start.min(range.start), s.end.max(range.end)),
            });
        }
        let span = span.expect("at least one segment");
        if !req
            .segments
            .iter()
            .any(|s| s.group.lifetime() == MemLifetime::Standard)
        {
            return Err(service_error(
                "finalization requires at least one standard-lifetime segment".into(),
            ));
        }

        // Claim the span (so concurrent requests cannot overlap it) and keep
        // the mapping alive while we write, without holding the lock.
        let region = {
            let mut slabs = lock(&self.slabs);
            let slab = Self::slab_containing(&mut slabs, span).ok_or_else(|| {
                service_error(format!(
                    "In initialize, range {} is not part of any reserved address range",
                    fmt_range(span)
                ))
            })?;
            if let Some(other) = overlapping(&slab.regions, span) {
                return Err(service_error(format!(
                    "In initialize, region {} overlaps {} region {}",
                    fmt_range(span),
                    if other.start < span.start {
                        "previous"
                    } else {
                        "following"
                    },
                    fmt_range(other)
                )));
            }
            slab.regions.insert(
                span.start.value(),
                RegionInfo {
                    size: span.size(),
                    dealloc: None,
                },
            );
            slab.region.clone()
        };

        let result = self.write_and_finalize(&region, req);
        let mut slabs = lock(&self.slabs);
        let slab =
            Self::slab_containing(&mut slabs, span).filter(|s| Arc::ptr_eq(&s.region, &region));
        match (result, slab) {
            (Ok(deallocs), Some(slab)) => {
                if let Some(info) = slab.regions.get_mut(&span.start.value()) {
                    info.dealloc = Some(deallocs);
                }
                Ok(span.start)
            }
            (Ok(deallocs), None) => {
                drop(slabs);
                // Released while we were initializing: undo what we did.
                let undo = self.actions.run_dealloc(deallocs).err();
                Err(join_errors(
                    std::iter::once(service_error(format!(
                        "In initialize, the reservation holding {} was released during initialization",
                        fmt_range(span)
                    )))
                    .chain(undo),
                )
                .expect("one error"))
            }
            (Err(err), slab) => {
                if let Some(slab) = slab {
                    slab.regions.remove(&span.start.value());
                }
                Err(err)
            }
        }
    }

    fn write_and_finalize(
        &self,
        region: &Region,
        req: &FinalizeRequest<'_>,
    ) -> Result<Vec<AllocAction>, Error> {
        let io = |what: &str, e: std::io::Error| {
            Error::with_source(ErrorKind::Io, e).context(what.to_owned())
        };
        let mut written = Vec::new();
        let result = (|| {
            for seg in &req.segments {
                written.push(seg);
                region
                    .fill(seg.addr, seg.size, seg.content)
                    .map_err(|e| io("In initialize, copying a segment", e))?;
                let prot = Prot::from_bits(seg.group.prot().bits());
                region
                    .protect(seg.addr, seg.size, prot)
                    .map_err(|e| io("In initialize, protecting a segment", e))?;
                if prot.is_exec() {
                    region
                        .flush_icache(seg.addr, seg.size)
                        .map_err(|e| io("In initialize, flushing the instruction cache", e))?;
                }
            }
            self.actions.run_finalize(&req.actions)
        })();
        if result.is_err() {
            // As LLVM does: leave the segments read+write again.
            for seg in written {
                let _ = region.protect(seg.addr, seg.size, Prot::RW);
            }
        }
        result
    }

    /// Runs and forgets the dealloc actions of the regions with these keys,
    /// last key first. Every key is processed; failures are joined.
    pub fn deinitialize(&self, keys: &[ExecutorAddr]) -> Result<(), Error> {
        let mut errors = Vec::new();
        for &key in keys.iter().rev() {
            let taken = Self::take_region(&mut lock(&self.slabs), key);
            match taken {
                Ok(deallocs) => {
                    if let Err(e) = self.actions.run_dealloc(deallocs) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        join_errors(errors).map_or(Ok(()), Err)
    }

    /// [`deinitialize`](Self::deinitialize) if that runs no alloc action
    /// (no region named has dealloc actions), else `None` and nothing
    /// changes: the caller then deinitializes on a thread fit for running
    /// JIT'd code. Checked and done under one lock, so no region can change
    /// in between.
    pub fn deinitialize_without_actions(&self, keys: &[ExecutorAddr]) -> Option<Result<(), Error>> {
        let mut slabs = lock(&self.slabs);
        let has_actions = keys.iter().any(|&key| {
            Self::slab_containing(&mut slabs, ExecutorAddrRange::new(key, key))
                .and_then(|slab| slab.regions.get(&key.value()))
                .and_then(|info| info.dealloc.as_ref())
                .is_some_and(|d| !d.is_empty())
        });
        if has_actions {
            return None;
        }
        let errors: Vec<Error> = keys
            .iter()
            .rev()
            .filter_map(|&key| Self::take_region(&mut slabs, key).err())
            .collect();
        Some(join_errors(errors).map_or(Ok(()), Err))
    }

    /// Forgets the initialized region starting at `key`; its dealloc actions.
    fn take_region(
        slabs: &mut BTreeMap<u64, Slab>,
        key: ExecutorAddr,
    ) -> Result<Vec<AllocAction>, Error> {
        let range = ExecutorAddrRange::new(key, key);
        let Some(slab) =
            Self::slab_containing(slabs, range).filter(|s| s.region.range().contains(key))
        else {
            return Err(service_error(format!(
                "In deinitialize, address {:#x} is not part of any reserved address range",
                key.value()
            )));
        };
        match slab.regions.get(&key.value()) {
            Some(RegionInfo {
                dealloc: Some(_), ..
            }) => Ok(slab
                .regions
                .remove(&key.value())
                .and_then(|info| info.dealloc)
                .unwrap_or_default()),
            _ => Err(service_error(format!(
                "In deinitialize, address {:#x} does not correspond to the start of any initialized region",
                key.value()
            ))),
        }
    }

    /// Releases these reservations, last first: runs the dealloc actions of
    /// every region still initialized in each, then unmaps it.
    pub fn release(&self, bases: &[ExecutorAddr]) -> Result<(), Error> {
        let mut errors = Vec::new();
        for &base in bases.iter().rev() {
            if self.release_empty(base) {
                continue;
            }
            let Some(slab) = lock(&self.slabs).remove(&base.value()) else {
                errors.push(release_unknown(base));
                continue;
            };
            let deallocs: Vec<AllocAction> = slab
                .regions
                .into_values()
                .filter_map(|r| r.dealloc)
                .flatten()
                .collect();
            if let Err(e) = self.actions.run_dealloc(deallocs) {
                errors.push(e);
            }
            // Unmapped here, or when an initialize still running in it ends.
            drop(slab.region);
        }
        join_errors(errors).map_or(Ok(()), Err)
    }

    /// [`release`](Self::release) if that runs no alloc action (no region
    /// initialized in these reservations has dealloc actions), else `None`
    /// and nothing changes. Checked and done under one lock. (An initialize
    /// still running in a released reservation undoes itself, on its own
    /// thread, as with `release`.)
    pub fn release_without_actions(&self, bases: &[ExecutorAddr]) -> Option<Result<(), Error>> {
        let mut slabs = lock(&self.slabs);
        let has_actions = bases.iter().any(|base| {
            slabs.get(&base.value()).is_some_and(|slab| {
                slab.regions
                    .values()
                    .any(|r| r.dealloc.as_ref().is_some_and(|d| !d.is_empty()))
            })
        });
        if has_actions {
            return None;
        }
        let mut errors = Vec::new();
        let mut released = Vec::new();
        for &base in bases.iter().rev() {
            if self.release_empty(base) {
                continue;
            }
            match slabs.remove(&base.value()) {
                Some(slab) => released.push(slab),
                None => errors.push(release_unknown(base)),
            }
        }
        drop(slabs);
        // Unmapped outside the lock.
        drop(released);
        Some(join_errors(errors).map_or(Ok(()), Err))
    }

    /// Releases the empty reservation at address 0 if `base` names it and
    /// it is live (true: done).
    fn release_empty(&self, base: ExecutorAddr) -> bool {
        base.is_null() && self.zero_reserved.swap(false, Ordering::Relaxed)
    }

    /// Releases every reservation, highest base first (session shutdown).
    pub fn release_all(&self) -> Result<(), Error> {
        let bases: Vec<ExecutorAddr> = lock(&self.slabs)
            .keys()
            .map(|&b| ExecutorAddr::new(b))
            .collect();
        self.release(&bases)
    }

    /// The number of live reservations.
    pub fn reservation_count(&self) -> usize {
        lock(&self.slabs).len()
    }

    /// The mapping whose reservation contains all of `range` (for the
    /// memory-access service, which writes only inside reservations).
    pub(crate) fn region_containing(&self, range: ExecutorAddrRange) -> Option<Arc<Region>> {
        let mut slabs = lock(&self.slabs);
        Self::slab_containing(&mut slabs, range).map(|s| s.region.clone())
    }
}

/// The initialized region of `regions` that overlaps `span`, if any.
fn overlapping(
    regions: &BTreeMap<u64, RegionInfo>,
    span: ExecutorAddrRange,
) -> Option<ExecutorAddrRange> {
    let as_range = |(&start, info): (&u64, &RegionInfo)| {
        ExecutorAddrRange::new(
            ExecutorAddr::new(start),
            ExecutorAddr::new(start + info.size),
        )
    };
    let prev = regions
        .range(..=span.start.value())
        .next_back()
        .map(as_range);
    let next = regions.range(span.start.value()..).next().map(as_range);
    prev.into_iter().chain(next).find(|r| r.overlaps(&span))
}

#[cfg(test)]
mod tests;
