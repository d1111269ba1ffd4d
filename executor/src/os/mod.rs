//! The OS backend of the executor services: everything they need from the
//! operating system (address space and protections, the process's own
//! memory, libraries, the unwinder's and the debugger's registries, calling
//! code at an address) behind one trait, [`Os`]. No upstream header:
//! upstream orc-rt's services call the OS directly.
//!
//! - [`RealOs`]: the process's own OS, through [`crate::sys`]. A zero-sized
//!   type: services built on it compile to the direct calls they made
//!   before the trait existed. Every service and [`ServiceOptions`] default
//!   to it, and it is what `orc-executor` runs on.
//! - [`SimulatedOs`]: a deterministic stand-in, one per run. Addresses come
//!   from the instance's own counters in fixed fake ranges (shifted by a
//!   seed), memory is a sparse byte store of its own with enforced
//!   protections, libraries are a table the caller fills, and code is Rust
//!   functions registered at addresses. Two instances never share anything.
//!
//! Services take the backend at construction (`MemoryManager::new_in`,
//! [`ServiceOptions::new_in`], ...) and are generic over it, so the choice
//! costs nothing at run time. The rules are spec 12.1.
//!
//! [`ServiceOptions`]: crate::services::ServiceOptions
//! [`ServiceOptions::new_in`]: crate::services::ServiceOptions::new_in

mod real;
mod simulated;

/// The text of an [`Os`] error as the controller sees it (`strerror`'s,
/// without Rust's " (os error N)").
pub(crate) use crate::sys::error_text;
pub use real::{RealLibrary, RealMapping, RealOs};
pub use simulated::{
    SimulatedFunction, SimulatedLibrary, SimulatedMapping, SimulatedOs, SimulatedOsBuilder,
};

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::sps::memory::MemProt;
use orc_rt::wrapper::WrapperFunctionBuffer;

/// What the executor services need from the operating system.
///
/// Addresses are the executor's ([`ExecutorAddr`]): every one of them may
/// come from the controller, so an implementation checks before it touches
/// memory and answers a bad address with an error, never a crash. Errors
/// carry the texts the services pass on to the controller (for the real OS,
/// the OS's own words: `Cannot allocate memory`).
///
/// An implementation is a cheap handle (`Clone`): every service keeps one.
pub trait Os: Clone + Send + Sync + fmt::Debug + 'static {
    /// A mapping this backend made; unmapped when dropped.
    type Mapping: Mapping;
    /// An open library (or the process's global scope); closed when dropped.
    type Library: Library;

    /// The page size: reservations are multiples of it, protections apply
    /// to whole pages.
    fn page_size(&self) -> u64;

    /// An address of the backend's choosing for an object the executor
    /// publishes to the controller (a service instance, a wrapper
    /// function), which the controller only hands back and never reads
    /// through. `None`, the default: the object's own address, as LLVM's
    /// executor publishes (the real process). A simulation returns fake
    /// addresses of its own, so that runs repeat byte for byte.
    fn published_address(&self) -> Option<ExecutorAddr> {
        None
    }

    /// Maps `len` bytes read+write, backed lazily (the protection LLVM 22's
    /// executor gives a fresh reservation).
    fn map(&self, len: u64) -> io::Result<Self::Mapping>;

    /// A name for a new shared-memory object; `serial` counts the mapper's
    /// own. Names must differ between mappers of one process (the real OS
    /// numbers them process-wide); a taken name makes the mapper try the
    /// next.
    fn shared_memory_name(&self, serial: u64) -> String;

    /// Creates the shared-memory object `name` (which must not exist) of
    /// `len` bytes and maps it, inaccessible until protected: the
    /// controller writes the contents through its own mapping of the
    /// object. The object goes away with the mapping, if the controller has
    /// not unlinked it already.
    fn map_shared(&self, name: &str, len: u64) -> io::Result<Self::Mapping>;

    /// Copies each `(addr, bytes)` of `writes` into memory, in order. Every
    /// target must lie inside one of `targets` (checked before anything is
    /// written: `write of N bytes at ADDR is outside any reservation`); a
    /// page whose protection forbids writing fails its entry with
    /// [`fault_error`]'s text (entries before it are written).
    fn write(&self, targets: &[&Self::Mapping], writes: &[(ExecutorAddr, &[u8])])
    -> io::Result<()>;

    /// Fills each `(addr, buffer)` from memory at `addr`, in order. Any
    /// address may be asked for: an unmapped or unreadable one fails its
    /// entry with [`fault_error`]'s text.
    fn read(&self, reads: &mut [(ExecutorAddr, &mut [u8])]) -> io::Result<()>;

    /// Reads the NUL-terminated string at `addr` (without the NUL), one page
    /// at a time, so that a string ending just before an unreadable page
    /// reads.
    fn read_c_string(&self, addr: ExecutorAddr) -> io::Result<Vec<u8>> {
        let page = self.page_size();
        let mut out = Vec::new();
        let mut cur = addr;
        loop {
            let to_page_end = page - (cur.value() % page);
            let mut chunk = vec![0u8; to_page_end as usize];
            self.read(&mut [(cur, &mut chunk[..])])?;
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            cur = cur
                .checked_add(to_page_end)
                .ok_or_else(|| fault_error(cur.value(), 1))?;
        }
    }

    /// Reads `len` bytes from the descriptor `fd` straight into `target` at
    /// `addr` (streamed bulk writes: one kernel copy). `None`, the default:
    /// this backend cannot, and the caller copies through a buffer instead
    /// (the result is the same).
    fn read_fd_into(
        &self,
        target: &Self::Mapping,
        addr: ExecutorAddr,
        len: usize,
        fd: RawFd,
    ) -> Option<io::Result<FdRead>> {
        let _ = (target, addr, len, fd);
        None
    }

    /// The process itself: its global symbol scope (the program, its
    /// dependencies and every library opened since). Never closed.
    fn open_process(&self) -> Result<Self::Library, String>;

    /// Opens the library `path` (a file name searched as the dynamic linker
    /// does, or a path) with global symbol visibility; the error is the
    /// loader's message.
    fn open_library(&self, path: &[u8]) -> Result<Self::Library, String>;

    /// Constructs libstdc++'s standard streams with the constructor at
    /// `ctor` (`std::ios_base::Init::Init()`), as a C++ executor's own
    /// static constructors would have (see the dylib manager).
    fn init_cxx_streams(&self, ctor: ExecutorAddr);

    /// Registers the `.eh_frame` section in `section` with the unwinder.
    fn register_eh_frame(&self, section: ExecutorAddrRange) -> Result<(), String>;

    /// Deregisters a section [`register_eh_frame`](Self::register_eh_frame)
    /// registered.
    fn deregister_eh_frame(&self, section: ExecutorAddrRange) -> Result<(), String>;

    /// Adds the debug object in `object` to the GDB JIT interface's list;
    /// if `notify`, tells an attached debugger now.
    fn register_debug_object(&self, object: ExecutorAddrRange, notify: bool) -> Result<(), String>;

    /// Removes the debug object starting at `object.start` from the list.
    fn deregister_debug_object(&self, object: ExecutorAddrRange) -> Result<(), String>;

    /// Gives `function` an address at which [`call_wrapper`](Self::call_wrapper)
    /// calls it with this backend (the EH-frame and debugger registrars,
    /// which alloc actions name). `None`, the default: this backend cannot
    /// (in the real process only machine code has an address), and the
    /// caller publishes a C entry point instead.
    fn define_wrapper(
        &self,
        function: fn(&Self, &[u8]) -> WrapperFunctionBuffer,
    ) -> Option<ExecutorAddr> {
        let _ = function;
        None
    }

    /// Calls the function at `function` with LLVM 22's legacy wrapper ABI
    /// (`CWrapperFunctionResult fn(const char *, size_t)`): alloc actions.
    fn call_wrapper(&self, function: ExecutorAddr, args: &[u8]) -> WrapperFunctionBuffer;

    /// Calls `int main(int argc, char **argv)` at `main` with `args` as argv.
    fn run_main(&self, main: ExecutorAddr, args: &[&[u8]]) -> Result<i32, Error>;

    /// Calls `int fn(void)` at `function`.
    fn run_int_void(&self, function: ExecutorAddr) -> Result<i32, Error>;

    /// Calls `int fn(int)` at `function`.
    fn run_int_int(&self, function: ExecutorAddr, arg: i32) -> Result<i32, Error>;

    /// Calls `void fn(void)` at `function`.
    fn run_void_void(&self, function: ExecutorAddr) -> Result<(), Error>;
}

/// A mapping an [`Os`] made: an address range and the right to unmap it
/// (dropping it unmaps). Nothing in Rust holds references into it: only
/// JIT'd code and the controller's requests use its bytes.
pub trait Mapping: Send + Sync + fmt::Debug {
    /// The mapped range.
    fn range(&self) -> ExecutorAddrRange;

    /// Writes `content` at `addr` and zero-fills up to `addr + len`, after
    /// making those pages read+write (they may still carry the protection of
    /// an earlier use). `[addr, addr + len)` must lie inside the mapping.
    fn fill(&self, addr: ExecutorAddr, len: u64, content: &[u8]) -> io::Result<()>;

    /// Sets the protection of the pages covering `[addr, addr + len)`,
    /// which must lie inside the mapping.
    fn protect(&self, addr: ExecutorAddr, len: u64, prot: MemProt) -> io::Result<()>;

    /// Makes freshly written code in `[addr, addr + len)` visible to
    /// instruction fetch.
    fn flush_icache(&self, addr: ExecutorAddr, len: u64) -> io::Result<()>;
}

/// An open library an [`Os`] returned (closed when dropped).
pub trait Library: Send + Sync + fmt::Debug {
    /// The handle the controller knows the library by (an opaque token).
    fn handle(&self) -> ExecutorAddr;

    /// The address of `name`, or `None` if it is not defined (or is null,
    /// which LLVM's executor reports as not found too).
    fn symbol(&self, name: &[u8]) -> Option<ExecutorAddr>;
}

/// How [`Os::read_fd_into`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdRead {
    /// Every byte landed.
    Done,
    /// A page refused the bytes after the first `n` (which landed); the
    /// rest are still unread.
    Refused(usize),
    /// The stream ended after `n` bytes.
    Ended(usize),
}

/// The error for an access that an unmapped or protected page refused:
/// `cannot access LEN bytes at ADDR: address not mapped or protection
/// forbids it` (every backend's words, so results do not depend on it).
pub fn fault_error(addr: u64, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "cannot access {len} bytes at {addr:#x}: address not mapped or protection forbids it"
        ),
    )
}

/// The error for a write whose target lies in none of the given mappings.
pub(crate) fn outside_reservations_error(addr: ExecutorAddr, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "write of {len} bytes at {:#x} is outside any reservation",
            addr.value()
        ),
    )
}

/// The error for a range that is not inside the mapping it was given to.
pub(crate) fn outside_mapping_error(
    addr: ExecutorAddr,
    len: u64,
    mapping: ExecutorAddrRange,
) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "range {:#x}..{:#x} is outside the mapping {:#x}..{:#x}",
            addr.value(),
            addr.value().saturating_add(len),
            mapping.start.value(),
            mapping.end.value()
        ),
    )
}

/// The error for content longer than the segment it fills.
pub(crate) fn content_too_large_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "content larger than the segment",
    )
}

#[cfg(test)]
mod tests;
