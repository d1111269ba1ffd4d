//! Memory for JIT'd code: anonymous mappings owned by a [`Region`],
//! protections, instruction-cache flushes, and fault-checked copies to and
//! from arbitrary process addresses (`process_vm_readv`/`process_vm_writev`
//! on our own pid: a bad address is an `EFAULT`, never a crash).

use std::io;
use std::ptr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};

pub(crate) use crate::os::FdRead;
use crate::os::{
    content_too_large_error, fault_error, outside_mapping_error, outside_reservations_error,
};

/// Page protections (`MemProt` bits: read 1, write 2, exec 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Prot(u8);

impl Prot {
    pub(crate) const READ: u8 = 1;
    pub(crate) const WRITE: u8 = 2;
    pub(crate) const EXEC: u8 = 4;
    pub(crate) const RW: Prot = Prot(Self::READ | Self::WRITE);

    /// From the low three bits of an `AllocGroup`/`MemProt` byte.
    pub(crate) fn from_bits(bits: u8) -> Prot {
        Prot(bits & 7)
    }

    fn to_os(self) -> libc::c_int {
        let mut p = libc::PROT_NONE;
        if self.0 & Self::READ != 0 {
            p |= libc::PROT_READ;
        }
        if self.0 & Self::WRITE != 0 {
            p |= libc::PROT_WRITE;
        }
        if self.0 & Self::EXEC != 0 {
            p |= libc::PROT_EXEC;
        }
        p
    }
}

/// An anonymous private mapping this process owns; unmapped on drop.
///
/// Nothing in Rust holds references into a region: only JIT'd code and the
/// controller's requests use its bytes, so copying into it cannot break a
/// Rust aliasing guarantee.
#[derive(Debug)]
pub(crate) struct Region {
    base: usize,
    len: usize,
    /// For a POSIX shared-memory object: its name, unlinked on drop.
    shm_name: Option<std::ffi::CString>,
    /// The protections this process gave the pages (see [`ProtMap`]).
    /// Changed only under the write lock, together with the `mprotect`; a
    /// direct write holds the read lock while it copies.
    prots: RwLock<ProtMap>,
}

/// The protections of a region's pages as we set them, as runs: `(offset,
/// bits)` sorted by offset, the first at 0, each up to the next (or the
/// region's end). Only [`Region::write_direct`] reads it: a write into
/// pages we made writable ourselves needs no kernel check.
#[derive(Debug)]
struct ProtMap(Vec<(usize, u8)>);

impl ProtMap {
    fn new(bits: u8) -> Self {
        ProtMap(vec![(0, bits)])
    }

    /// The index of the run holding `off`.
    fn run_at(&self, off: usize) -> usize {
        self.0.partition_point(|&(start, _)| start <= off) - 1
    }

    /// Gives `[start, end)` the protection `bits` (`end` within the region
    /// of `len` bytes).
    fn set(&mut self, start: usize, end: usize, bits: u8, len: usize) {
        let after = self.0[self.run_at(end.min(len - 1))].1;
        self.0.retain(|&(s, _)| s < start || s > end);
        let at = self.0.partition_point(|&(s, _)| s < start);
        self.0.insert(at, (start, bits));
        if end < len {
            self.0.insert(at + 1, (end, after));
        }
        // Neighbours with the same bits merge, so the runs stay few.
        self.0.dedup_by(|next, prev| next.1 == prev.1);
    }

    /// Whether every page of `[start, end)` is writable.
    fn writable(&self, start: usize, end: usize) -> bool {
        let first = self.run_at(start);
        self.0[first..]
            .iter()
            .take_while(|&&(s, _)| s < end)
            .all(|&(_, bits)| bits & Prot::WRITE != 0)
    }
}

// SAFETY: a Region is an address range and the right to unmap it; all
// accesses go through methods that are fine from any thread.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` only offers bounds-checked copies.
unsafe impl Sync for Region {}

/// Zero ranges at least this large are returned to the kernel (fresh zero
/// pages on demand) instead of being written.
const MADVISE_ZERO_THRESHOLD: usize = 64 * 1024;

/// Where the last JIT memory was mapped: the next mapping is asked for just
/// below it. The controller links each graph into its own reservation and
/// small-code-model code reaches other graphs with 32-bit displacements,
/// so reservations must stay within 2 GiB of each other. The kernel's
/// top-down placement usually gives that, but not when other mappings
/// come between them (a sanitizer's or a big heap's); the hint keeps JIT
/// memory together whenever the space below the last reservation is free.
static LAST_JIT_MAPPING: AtomicUsize = AtomicUsize::new(0);

/// An address for the next `len`-byte JIT mapping (null: no preference).
fn placement_hint(len: usize) -> *mut libc::c_void {
    let last = LAST_JIT_MAPPING.load(Ordering::Relaxed);
    let page = super::page_size() as usize;
    match last.checked_sub(len) {
        Some(hint) if hint >= page => (hint & !(page - 1)) as *mut libc::c_void,
        _ => ptr::null_mut(),
    }
}

impl Region {
    /// Maps `len` bytes read+write (the protection LLVM 22's executor gives
    /// a fresh reservation), backed lazily.
    pub(crate) fn map(len: u64) -> io::Result<Region> {
        let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: a fresh anonymous mapping; without MAP_FIXED the address
        // is only a hint and the kernel never places it over another.
        let p = unsafe {
            libc::mmap(
                placement_hint(len),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        LAST_JIT_MAPPING.store(p as usize, Ordering::Relaxed);
        super::live::REGIONS.up();
        Ok(Region {
            base: p as usize,
            len,
            shm_name: None,
            prots: RwLock::new(ProtMap::new(Prot::RW.0)),
        })
    }

    /// Creates the POSIX shared-memory object `name` (which must not exist)
    /// of `len` bytes and maps it shared, inaccessible until protected (the
    /// controller writes contents through its own mapping of the object).
    /// The object is unlinked when the region is dropped, if the controller
    /// has not done so already.
    pub(crate) fn map_shared(name: &str, len: u64) -> io::Result<Region> {
        let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let c_name =
            std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a NUL-terminated name; O_EXCL never opens someone else's object.
        let fd = unsafe {
            libc::shm_open(
                c_name.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o700,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let unlink = || {
            // SAFETY: the name we just created.
            unsafe { libc::shm_unlink(c_name.as_ptr()) };
        };
        // SAFETY: our fresh descriptor; sizing it has no other effect.
        if unsafe { libc::ftruncate(fd, len as libc::off_t) } < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: closing our own descriptor.
            unsafe { libc::close(fd) };
            unlink();
            return Err(err);
        }
        // SAFETY: a new shared mapping of our object; without MAP_FIXED the
        // address is only a hint: it overlaps nothing.
        let p = unsafe {
            libc::mmap(
                placement_hint(len),
                len,
                libc::PROT_NONE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        let err = io::Error::last_os_error();
        // SAFETY: the mapping keeps the object; the descriptor is not needed.
        unsafe { libc::close(fd) };
        if p == libc::MAP_FAILED {
            unlink();
            return Err(err);
        }
        LAST_JIT_MAPPING.store(p as usize, Ordering::Relaxed);
        super::live::REGIONS.up();
        super::live::SHM_OBJECTS.up();
        Ok(Region {
            base: p as usize,
            len,
            shm_name: Some(c_name),
            prots: RwLock::new(ProtMap::new(0)),
        })
    }

    /// Maps an existing shared-memory object read+write, as a controller
    /// does with the one it got from `reserve` (tests play the controller).
    #[cfg(test)]
    pub(crate) fn open_shared(name: &str, len: u64) -> io::Result<Region> {
        let c_name =
            std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a NUL-terminated name; opening an existing object.
        let fd = unsafe { libc::shm_open(c_name.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new shared mapping at an address of the kernel's choosing.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        let err = io::Error::last_os_error();
        // SAFETY: closing our own descriptor; the mapping stays.
        unsafe { libc::close(fd) };
        if p == libc::MAP_FAILED {
            return Err(err);
        }
        super::live::REGIONS.up();
        Ok(Region {
            base: p as usize,
            len: len as usize,
            shm_name: None,
            prots: RwLock::new(ProtMap::new(Prot::RW.0)),
        })
    }

    /// The mapped range.
    pub(crate) fn range(&self) -> ExecutorAddrRange {
        ExecutorAddrRange::new(
            ExecutorAddr::new(self.base as u64),
            ExecutorAddr::new((self.base + self.len) as u64),
        )
    }

    /// The offset of `[addr, addr + len)` in the region, if it lies inside.
    fn offset_of(&self, addr: ExecutorAddr, len: u64) -> io::Result<usize> {
        let start = addr.value().checked_sub(self.base as u64);
        match start {
            Some(off)
                if off
                    .checked_add(len)
                    .is_some_and(|end| end <= self.len as u64) =>
            {
                Ok(off as usize)
            }
            _ => Err(outside_mapping_error(addr, len, self.range())),
        }
    }

    /// The page-aligned span covering `[off, off + len)`, clipped to the region.
    fn page_span(&self, off: usize, len: usize) -> (usize, usize) {
        let page = super::page_size() as usize;
        let start = (self.base + off) & !(page - 1);
        let end = (self.base + off + len)
            .next_multiple_of(page)
            .min(self.base + self.len);
        (start.max(self.base), end)
    }

    /// Writes `content` at `addr` and zero-fills up to `addr + len`, after
    /// making those pages read+write (they may still carry the protection of
    /// an earlier, deinitialized use).
    pub(crate) fn fill(&self, addr: ExecutorAddr, len: u64, content: &[u8]) -> io::Result<()> {
        if content.len() as u64 > len {
            return Err(content_too_large_error());
        }
        let off = self.offset_of(addr, len)?;
        let len = len as usize;
        if len == 0 {
            return Ok(());
        }
        self.protect_span(off, len, Prot::RW)?;
        let dst = (self.base + off) as *mut u8;
        // SAFETY: `offset_of` checked that [off, off+len) lies inside our
        // mapping, which was just made writable, and no Rust reference
        // points into it (type invariant); `content` is a separate buffer.
        unsafe { ptr::copy_nonoverlapping(content.as_ptr(), dst, content.len()) };
        self.zero(off + content.len(), len - content.len())
    }

    /// Zeroes `[off, off + len)`, which is inside the region and writable.
    fn zero(&self, off: usize, len: usize) -> io::Result<()> {
        let page = super::page_size() as usize;
        let start = self.base + off;
        let end = start + len;
        let inner_start = start.next_multiple_of(page);
        let inner_end = end & !(page - 1);
        if len >= MADVISE_ZERO_THRESHOLD && inner_end > inner_start {
            // SAFETY: both edge ranges lie inside [start, end), which is
            // inside our writable mapping (caller's contract).
            unsafe {
                ptr::write_bytes(start as *mut u8, 0, inner_start - start);
                ptr::write_bytes(inner_end as *mut u8, 0, end - inner_end);
            }
            // SAFETY: whole pages of our own private anonymous mapping; after
            // MADV_DONTNEED they read back as zero, which is what we want.
            let rc = unsafe {
                libc::madvise(
                    inner_start as *mut libc::c_void,
                    inner_end - inner_start,
                    libc::MADV_DONTNEED,
                )
            };
            if rc == 0 {
                return Ok(());
            }
        }
        // SAFETY: [start, end) is inside our writable mapping.
        unsafe { ptr::write_bytes(start as *mut u8, 0, len) };
        Ok(())
    }

    fn protect_span(&self, off: usize, len: usize, prot: Prot) -> io::Result<()> {
        let (start, end) = self.page_span(off, len);
        if end <= start {
            return Ok(());
        }
        // Under the write lock: no direct write is copying meanwhile.
        let mut prots = self.prots.write().unwrap_or_else(|p| p.into_inner());
        // SAFETY: page-aligned span inside our own mapping; changing its
        // protection cannot invalidate any Rust reference (none point here).
        let rc = unsafe { libc::mprotect(start as *mut libc::c_void, end - start, prot.to_os()) };
        // A failed mprotect may have changed some of the pages: count them
        // as not writable, so writes there take the kernel-checked path.
        let bits = if rc == 0 { prot.0 } else { 0 };
        prots.set(start - self.base, end - self.base, bits, self.len);
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Copies `bytes` to `addr` without a system call if every page they
    /// land on is one we made writable ourselves (private mappings only: a
    /// shared object's size is the controller's too). `false`: nothing was
    /// written; the caller takes the kernel-checked path.
    ///
    /// The protections are those this process set through [`Self::protect`]
    /// and [`Self::fill`]; JIT'd code that changes a reservation's pages
    /// behind the memory manager's back makes such a write fault, as any
    /// write by LLVM's executor would.
    fn write_direct(&self, addr: ExecutorAddr, bytes: &[u8]) -> bool {
        if self.shm_name.is_some() || bytes.is_empty() {
            return false;
        }
        let Ok(off) = self.offset_of(addr, bytes.len() as u64) else {
            return false;
        };
        let prots = self.prots.read().unwrap_or_else(|p| p.into_inner());
        if !prots.writable(off, off + bytes.len()) {
            return false;
        }
        // SAFETY: `offset_of` checked that the target lies inside our
        // mapping; its pages are writable (we set them so, and the read lock
        // keeps `protect_span` from changing that until the copy is done);
        // no Rust reference points into a region (type invariant), and
        // `bytes` is a separate buffer.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), (self.base + off) as *mut u8, bytes.len())
        };
        true
    }

    /// Sets the protection of the pages covering `[addr, addr + len)`.
    pub(crate) fn protect(&self, addr: ExecutorAddr, len: u64, prot: Prot) -> io::Result<()> {
        let off = self.offset_of(addr, len)?;
        self.protect_span(off, len as usize, prot)
    }

    /// Makes freshly written code in `[addr, addr + len)` visible to
    /// instruction fetch (a no-op on x86-64, whose caches are coherent).
    pub(crate) fn flush_icache(&self, addr: ExecutorAddr, len: u64) -> io::Result<()> {
        let off = self.offset_of(addr, len)?;
        flush_icache_range(self.base + off, len as usize);
        Ok(())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range and nothing else owns it.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
        super::live::REGIONS.down();
        if let Some(name) = &self.shm_name {
            // SAFETY: a name we created; ENOENT (the controller unlinked it
            // after mapping it, as LLVM's does) is fine.
            unsafe { libc::shm_unlink(name.as_ptr()) };
            super::live::SHM_OBJECTS.down();
        }
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
fn flush_icache_range(_start: usize, _len: usize) {}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
fn flush_icache_range(start: usize, len: usize) {
    unsafe extern "C" {
        // libgcc/compiler-rt builtin that does the architecture's dance.
        fn __clear_cache(start: *mut libc::c_char, end: *mut libc::c_char);
    }
    // SAFETY: the range is inside a mapping we own; __clear_cache only
    // issues cache-maintenance instructions for it.
    unsafe {
        __clear_cache(
            start as *mut libc::c_char,
            (start + len) as *mut libc::c_char,
        )
    };
}

/// Whether `process_vm_*v` works here (it may be filtered by seccomp).
static VM_SYSCALLS_USABLE: AtomicBool = AtomicBool::new(true);

/// Most iovecs one `process_vm_*v` call takes (Linux `UIO_MAXIOV`).
const MAX_IOV: usize = 1024;

/// Copies each `(addr, bytes)` of `writes` into our own memory, checking
/// first that every target lies inside one of `regions`. Pages we made
/// writable ourselves are written directly (no system call: a small write
/// costs the controller's round trip only); for any other page the kernel
/// refuses (EFAULT) a protection that forbids writing, so a write into
/// finalized code is an error, not a crash.
pub(crate) fn write_checked<'r>(
    regions: impl Iterator<Item = &'r Region> + Clone,
    writes: &[(ExecutorAddr, &[u8])],
) -> io::Result<()> {
    for &(addr, bytes) in writes {
        if !regions
            .clone()
            .any(|r| r.offset_of(addr, bytes.len() as u64).is_ok())
        {
            return Err(outside_reservations_error(addr, bytes.len()));
        }
    }
    // In order, as a later write may overlap an earlier one: into pages we
    // made writable ourselves directly, anything else through the kernel,
    // which refuses a page whose protection forbids writing.
    for &(addr, bytes) in writes {
        if regions.clone().any(|r| r.write_direct(addr, bytes)) {
            continue;
        }
        let entry = [(bytes.as_ptr() as *mut libc::c_void, addr, bytes.len())];
        // SAFETY: the local buffer is a live byte slice; the target lies
        // inside a mapping we own (checked above) that no Rust reference
        // points into.
        if unsafe { kernel_checked_copy(Direction::IntoOurMemory, &entry) }? {
            continue;
        }
        // SAFETY: inside a mapping we own (checked above); without the
        // kernel's check a write to a read-only page would fault, the same
        // as LLVM's executor, but only on systems that filter
        // process_vm_writev.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), addr.to_ptr::<u8>(), bytes.len()) };
    }
    Ok(())
}

/// Reads `len` bytes from the descriptor `fd` straight into our memory at
/// `addr`, which must lie inside `region`: one copy, done by the kernel,
/// which refuses (EFAULT) a page that is unmapped or not writable instead of
/// faulting.
pub(crate) fn read_fd_into(
    region: &Region,
    addr: ExecutorAddr,
    len: usize,
    fd: std::os::fd::RawFd,
) -> io::Result<FdRead> {
    region.offset_of(addr, len as u64)?;
    let mut landed = 0;
    while landed < len {
        // SAFETY: the target lies inside a mapping the caller keeps alive
        // (`region`, checked above) that no Rust reference points into; the
        // kernel writes it only where the page allows (EFAULT otherwise).
        let n = unsafe {
            libc::read(
                fd,
                addr.to_ptr::<libc::c_void>().wrapping_byte_add(landed),
                len - landed,
            )
        };
        match n {
            0 => return Ok(FdRead::Ended(landed)),
            n if n > 0 => landed += n as usize,
            _ => {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EFAULT) => return Ok(FdRead::Refused(landed)),
                    _ => return Err(e),
                }
            }
        }
    }
    Ok(FdRead::Done)
}

/// Which way [`kernel_checked_copy`] copies.
#[derive(Clone, Copy)]
enum Direction {
    /// From the local buffers to the addresses (process_vm_writev).
    IntoOurMemory,
    /// From the addresses to the local buffers (process_vm_readv).
    OutOfOurMemory,
}

/// Copies between local buffers and addresses of our own memory through
/// process_vm_readv/writev, so that the kernel checks the addresses' pages:
/// an unmapped or protected page is an error naming the entry, not a
/// fault. `Ok(false)` when this system filters those calls (seccomp, no
/// ptrace access): the caller then copies directly.
///
/// # Safety
///
/// Each `(local, addr, len)` must name `len` bytes of a live local buffer
/// (exclusively borrowed when copying out of our memory) and, when copying
/// into our memory, `len` bytes that no Rust reference points into.
unsafe fn kernel_checked_copy(
    direction: Direction,
    entries: &[(*mut libc::c_void, ExecutorAddr, usize)],
) -> io::Result<bool> {
    if !VM_SYSCALLS_USABLE.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let iovec = |base: *mut libc::c_void, len| libc::iovec {
        iov_base: base,
        iov_len: len,
    };
    let local: Vec<libc::iovec> = entries.iter().map(|&(l, _, n)| iovec(l, n)).collect();
    let remote: Vec<libc::iovec> = entries
        .iter()
        .map(|&(_, a, n)| iovec(a.value() as usize as *mut libc::c_void, n))
        .collect();
    let total: usize = local.iter().map(|v| v.iov_len).sum();
    let call = match direction {
        Direction::IntoOurMemory => libc::process_vm_writev,
        Direction::OutOfOurMemory => libc::process_vm_readv,
    };
    // SAFETY: both iovec arrays are live for the call; the caller vouches
    // for the local buffers and, for writes, the targets; the kernel checks
    // the remote addresses.
    let n = unsafe {
        call(
            libc::getpid(),
            local.as_ptr(),
            local.len() as libc::c_ulong,
            remote.as_ptr(),
            remote.len() as libc::c_ulong,
            0,
        )
    };
    if n >= 0 && n as usize == total {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if n >= 0 || err.raw_os_error() == Some(libc::EFAULT) {
        let failed = first_failed(
            entries.iter().map(|&(_, a, len)| (a, len)),
            n.max(0) as usize,
        );
        return Err(fault_error(failed.0.value(), failed.1));
    }
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
        return Err(err);
    }
    VM_SYSCALLS_USABLE.store(false, Ordering::Relaxed);
    Ok(false)
}

/// The entry a partial transfer of `done` bytes stopped in.
fn first_failed(
    entries: impl Iterator<Item = (ExecutorAddr, usize)>,
    done: usize,
) -> (ExecutorAddr, usize) {
    let mut seen = 0usize;
    let mut last = (ExecutorAddr::NULL, 0);
    for (addr, len) in entries {
        last = (addr, len);
        if seen + len > done {
            return last;
        }
        seen += len;
    }
    last
}

/// Fills each `(addr, buffer)` from our own memory at `addr`. Any address
/// may be asked for: an unmapped or unreadable one is an error.
pub(crate) fn read_checked(reads: &mut [(ExecutorAddr, &mut [u8])]) -> io::Result<()> {
    for chunk in reads.chunks_mut(MAX_IOV) {
        let entries: Vec<_> = chunk
            .iter_mut()
            .map(|(addr, buf)| (buf.as_mut_ptr() as *mut libc::c_void, *addr, buf.len()))
            .collect();
        // SAFETY: the local buffers are live and exclusively borrowed; the
        // kernel checks the addresses read from.
        if unsafe { kernel_checked_copy(Direction::OutOfOurMemory, &entries) }? {
            continue;
        }
        for (addr, buf) in chunk.iter_mut() {
            // SAFETY: only reached where the kernel filters process_vm_readv;
            // then, like LLVM's executor, we trust the controller's address.
            unsafe { ptr::copy_nonoverlapping(addr.to_ptr::<u8>(), buf.as_mut_ptr(), buf.len()) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::{Os, RealOs};

    #[test]
    fn fill_copies_and_zero_fills() {
        let page = super::super::page_size();
        let r = Region::map(page * 40).unwrap();
        let base = r.range().start;
        // Dirty the region, then fill over it: the tail must read as zero,
        // including the madvise path for the large tail.
        r.fill(base, page * 40, &vec![0xaa; (page * 40) as usize])
            .unwrap();
        r.fill(base + 3, page * 39, b"abc").unwrap();
        let mut buf = vec![0xffu8; (page * 39) as usize];
        read_checked(&mut [(base + 3, &mut buf[..])]).unwrap();
        assert_eq!(&buf[..3], b"abc");
        assert!(buf[3..].iter().all(|&b| b == 0));
        let mut first = [0u8; 3];
        read_checked(&mut [(base, &mut first[..])]).unwrap();
        assert_eq!(first, [0xaa; 3]);
    }

    #[test]
    fn out_of_range_and_oversized_fills_are_errors() {
        let page = super::super::page_size();
        let r = Region::map(page).unwrap();
        let base = r.range().start;
        assert!(r.fill(base, page + 1, b"").is_err());
        assert!(r.fill(base + page, 1, b"").is_err());
        assert!(r.fill(ExecutorAddr::new(u64::MAX), 2, b"").is_err());
        assert!(r.fill(base, 2, b"abc").is_err());
    }

    #[test]
    fn writes_respect_reservations_and_protections() {
        let page = super::super::page_size();
        let r = Region::map(page * 2).unwrap();
        let base = r.range().start;
        write_checked([&r].into_iter(), &[(base, b"hi"), (base + page, b"yo")]).unwrap();
        let mut got = [0u8; 2];
        read_checked(&mut [(base + page, &mut got[..])]).unwrap();
        assert_eq!(&got, b"yo");

        let outside =
            write_checked([&r].into_iter(), &[(ExecutorAddr::new(0x10), b"x")]).unwrap_err();
        assert!(
            outside.to_string().contains("outside any reservation"),
            "{outside}"
        );
        let straddling =
            write_checked([&r].into_iter(), &[(base + page * 2 - 1, b"xy")]).unwrap_err();
        assert!(straddling.to_string().contains("outside any reservation"));

        r.protect(base + page, page, Prot::from_bits(Prot::READ))
            .unwrap();
        let ro =
            write_checked([&r].into_iter(), &[(base, b"ok"), (base + page, b"no")]).unwrap_err();
        assert!(
            ro.to_string()
                .contains(&format!("{:#x}", (base + page).value())),
            "{ro}"
        );
    }

    #[test]
    fn the_protection_map_follows_every_protect() {
        const P: usize = 4096;
        let len = 8 * P;
        let mut m = ProtMap::new(Prot::RW.0);
        assert!(m.writable(0, len));
        m.set(2 * P, 4 * P, Prot::READ | Prot::EXEC, len);
        assert_eq!(m.0, [(0, 3), (2 * P, 5), (4 * P, 3)]);
        assert!(m.writable(0, 2 * P) && m.writable(4 * P, len));
        assert!(!m.writable(2 * P - 1, 2 * P + 1), "straddles into RX");
        assert!(!m.writable(3 * P, 3 * P + 8));
        // Overlapping the end, then back to RW: the runs merge again.
        m.set(3 * P, len, 0, len);
        assert_eq!(m.0, [(0, 3), (2 * P, 5), (3 * P, 0)]);
        m.set(0, len, Prot::RW.0, len);
        assert_eq!(m.0, [(0, 3)]);
        m.set(0, P, 1, len);
        assert_eq!(m.0, [(0, 1), (P, 3)]);
        assert!(!m.writable(0, 1) && m.writable(P, P + 1));
    }

    #[test]
    fn direct_writes_only_where_we_made_the_pages_writable() {
        let page = super::super::page_size();
        let r = Region::map(page * 3).unwrap();
        let base = r.range().start;
        assert!(r.write_direct(base + 5, b"direct"));
        r.protect(base + page, page, Prot::from_bits(Prot::READ))
            .unwrap();
        assert!(!r.write_direct(base + page + 8, b"x"), "read-only page");
        assert!(!r.write_direct(base + page - 1, b"xy"), "straddles it");
        assert!(r.write_direct(base + page * 2, b"after"));
        assert!(!r.write_direct(base + page * 3 - 1, b"xy"), "outside");
        r.protect(base + page, page, Prot::RW).unwrap();
        assert!(r.write_direct(base + page - 1, b"xy"));
        let mut got = [0u8; 6];
        read_checked(&mut [(base + 5, &mut got[..])]).unwrap();
        assert_eq!(&got, b"direct");
        // A fill makes its pages writable again after a finalization.
        r.protect(base, page * 3, Prot::from_bits(Prot::READ | Prot::EXEC))
            .unwrap();
        assert!(write_checked([&r].into_iter(), &[(base, b"no")]).is_err());
        r.fill(base, page, b"yes").unwrap();
        assert!(r.write_direct(base, b"ok"));
        // Shared memory always takes the kernel's path.
        let name = format!("/orc-rt-direct-{}", std::process::id());
        let shared = Region::map_shared(&name, page).unwrap();
        shared
            .protect(shared.range().start, page, Prot::RW)
            .unwrap();
        assert!(!shared.write_direct(shared.range().start, b"x"));
        write_checked([&shared].into_iter(), &[(shared.range().start, b"x")]).unwrap();
    }

    #[test]
    fn descriptor_reads_land_in_place_stop_at_a_refused_page_and_see_the_end() {
        use std::io::Write as _;
        use std::os::fd::AsRawFd;
        let page = super::super::page_size();
        let r = Region::map(page * 2).unwrap();
        let base = r.range().start;
        let (reader, mut writer) = std::io::pipe().unwrap();
        let fd = reader.as_raw_fd();
        let bytes: Vec<u8> = (0..page * 2).map(|i| (i % 251) as u8).collect();

        // Everything lands (from an offset: no alignment needed).
        writer.write_all(&bytes[..100]).unwrap();
        assert_eq!(read_fd_into(&r, base + 5, 100, fd).unwrap(), FdRead::Done);
        let mut got = vec![0u8; 100];
        read_checked(&mut [(base + 5, &mut got[..])]).unwrap();
        assert_eq!(got, bytes[..100]);

        // Outside the region: refused before reading anything.
        assert!(read_fd_into(&r, base + page, page as usize + 1, fd).is_err());

        // A read-only second page: at most the bytes before it land (the
        // kernel may refuse the whole copy), the rest stay in the pipe, in
        // order.
        r.protect(base + page, page, Prot::from_bits(Prot::READ))
            .unwrap();
        writer.write_all(&bytes[..16]).unwrap();
        let FdRead::Refused(landed) = read_fd_into(&r, base + page - 8, 16, fd).unwrap() else {
            panic!("the read-only page is refused");
        };
        assert!(landed <= 8, "{landed} bytes landed on a read-only page");
        let mut rest = vec![0u8; 16 - landed];
        std::io::Read::read_exact(&mut &reader, &mut rest).unwrap();
        assert_eq!(rest, bytes[landed..16]);

        // The stream ends early: what arrived is counted.
        writer.write_all(&bytes[..3]).unwrap();
        drop(writer);
        assert_eq!(read_fd_into(&r, base, 10, fd).unwrap(), FdRead::Ended(3));
    }

    #[test]
    fn shared_regions_are_inaccessible_until_protected_and_unlinked_on_drop() {
        let page = super::super::page_size();
        let name = format!("/orc_rt_test_{}", std::process::id());
        let r = Region::map_shared(&name, page * 2).unwrap();
        assert!(Region::map_shared(&name, page).is_err(), "O_EXCL");
        let base = r.range().start;
        let mut b = [0u8; 1];
        assert!(
            read_checked(&mut [(base, &mut b[..])]).is_err(),
            "PROT_NONE"
        );
        r.protect(base, page, Prot::RW).unwrap();
        write_checked([&r].into_iter(), &[(base, b"z")]).unwrap();
        read_checked(&mut [(base, &mut b[..])]).unwrap();
        assert_eq!(&b, b"z");
        drop(r);
        let again = Region::map_shared(&name, page).unwrap();
        drop(again);
    }

    #[test]
    fn reads_of_bad_addresses_are_errors() {
        let mut buf = [0u8; 4];
        assert!(read_checked(&mut [(ExecutorAddr::new(8), &mut buf[..])]).is_err());
        assert!(RealOs.read_c_string(ExecutorAddr::new(8)).is_err());
    }

    #[test]
    fn c_strings_read_up_to_the_nul_even_at_a_page_end() {
        let page = super::super::page_size();
        let r = Region::map(page * 2).unwrap();
        let base = r.range().start;
        r.fill(base + page - 4, 3, b"end").unwrap();
        r.protect(base + page, page, Prot::from_bits(0)).unwrap();
        // "end" then the zero byte at the last position of the readable page.
        assert_eq!(RealOs.read_c_string(base + page - 4).unwrap(), b"end");
        assert_eq!(RealOs.read_c_string(base).unwrap(), b"");
    }
}
