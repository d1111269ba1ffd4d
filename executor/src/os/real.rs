//! [`RealOs`]: the process's own operating system, the backend
//! `orc-executor` runs on. Every method is a direct call into
//! [`crate::sys`] (mappings, process-memory copies, dlopen, libgcc's frame
//! registry, the GDB JIT interface) or [`crate::call`] (calling code at an
//! address); this file holds no `unsafe` of its own.

use std::io;
use std::os::fd::RawFd;

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::sps::memory::MemProt;
use orc_rt::wrapper::WrapperFunctionBuffer;

use super::{FdRead, Library, Mapping, Os};
use crate::call;
use crate::sys::{self, dylib, memory};

/// The process's own OS: what LLVM's executor does, unchanged. Zero-sized:
/// services on it cost nothing over calling [`crate::sys`] directly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RealOs;

/// An anonymous or shared mapping of this process (unmapped on drop).
#[derive(Debug)]
pub struct RealMapping(memory::Region);

/// A `dlopen` handle, or the process's global scope (closed on drop).
#[derive(Debug)]
pub struct RealLibrary(dylib::Library);

fn prot(p: MemProt) -> memory::Prot {
    memory::Prot::from_bits(p.bits())
}

impl Mapping for RealMapping {
    fn range(&self) -> ExecutorAddrRange {
        self.0.range()
    }

    fn fill(&self, addr: ExecutorAddr, len: u64, content: &[u8]) -> io::Result<()> {
        self.0.fill(addr, len, content)
    }

    fn protect(&self, addr: ExecutorAddr, len: u64, p: MemProt) -> io::Result<()> {
        self.0.protect(addr, len, prot(p))
    }

    fn flush_icache(&self, addr: ExecutorAddr, len: u64) -> io::Result<()> {
        self.0.flush_icache(addr, len)
    }
}

impl Library for RealLibrary {
    fn handle(&self) -> ExecutorAddr {
        self.0.raw()
    }

    fn symbol(&self, name: &[u8]) -> Option<ExecutorAddr> {
        self.0.symbol(name)
    }
}

impl Os for RealOs {
    type Mapping = RealMapping;
    type Library = RealLibrary;

    fn page_size(&self) -> u64 {
        sys::page_size()
    }

    fn map(&self, len: u64) -> io::Result<RealMapping> {
        memory::Region::map(len).map(RealMapping)
    }

    fn shared_memory_name(&self, _serial: u64) -> String {
        // Numbered for the whole process, not per mapper: two mappers of one
        // process (two sessions, tests run in parallel) must never pick the
        // same name, since POSIX shared-memory names are system-wide.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("/orc_rt_{}_{n}", std::process::id())
    }

    fn map_shared(&self, name: &str, len: u64) -> io::Result<RealMapping> {
        memory::Region::map_shared(name, len).map(RealMapping)
    }

    fn write(&self, targets: &[&RealMapping], writes: &[(ExecutorAddr, &[u8])]) -> io::Result<()> {
        memory::write_checked(targets.iter().map(|m| &m.0), writes)
    }

    fn read(&self, reads: &mut [(ExecutorAddr, &mut [u8])]) -> io::Result<()> {
        memory::read_checked(reads)
    }

    fn read_fd_into(
        &self,
        target: &RealMapping,
        addr: ExecutorAddr,
        len: usize,
        fd: RawFd,
    ) -> Option<io::Result<FdRead>> {
        Some(memory::read_fd_into(&target.0, addr, len, fd))
    }

    fn open_process(&self) -> Result<RealLibrary, String> {
        dylib::Library::process().map(RealLibrary)
    }

    fn open_library(&self, path: &[u8]) -> Result<RealLibrary, String> {
        dylib::Library::open(path).map(RealLibrary)
    }

    fn init_cxx_streams(&self, ctor: ExecutorAddr) {
        dylib::construct_ios_base_init(ctor);
    }

    fn register_eh_frame(&self, section: ExecutorAddrRange) -> Result<(), String> {
        sys::eh_frame::register(section)
    }

    fn deregister_eh_frame(&self, section: ExecutorAddrRange) -> Result<(), String> {
        sys::eh_frame::deregister(section)
    }

    fn register_debug_object(&self, object: ExecutorAddrRange, notify: bool) -> Result<(), String> {
        sys::gdb_jit::register(object, notify)
    }

    fn deregister_debug_object(&self, object: ExecutorAddrRange) -> Result<(), String> {
        sys::gdb_jit::deregister(object)
    }

    fn call_wrapper(&self, function: ExecutorAddr, args: &[u8]) -> WrapperFunctionBuffer {
        call::call_legacy_wrapper(function, args)
    }

    fn run_main(&self, main: ExecutorAddr, args: &[&[u8]]) -> Result<i32, Error> {
        call::run_as_main(main, args)
    }

    fn run_int_void(&self, function: ExecutorAddr) -> Result<i32, Error> {
        call::run_as_void(function)
    }

    fn run_int_int(&self, function: ExecutorAddr, arg: i32) -> Result<i32, Error> {
        call::run_as_int(function, arg)
    }

    fn run_void_void(&self, function: ExecutorAddr) -> Result<(), Error> {
        call::run_void_void(function)
    }
}
