//! [`SimulatedOs`]: a deterministic [`Os`] of its own per instance, for
//! simulations and tests. The same operations on two instances with the
//! same seed give the same addresses and the same bytes; two instances
//! never see each other's memory, libraries, functions or registrations.
//!
//! | what | the real OS | here |
//! |---|---|---|
//! | mappings | `mmap` | from [`MAPPING_BASE`](SimulatedOs::MAPPING_BASE) plus a seed-chosen shift, upwards, never reused, a guard page after each; `Cannot allocate memory` past [`MAPPING_END`](SimulatedOs::MAPPING_END) |
//! | memory | the process's pages | a sparse store of pages per mapping (or per shared object); protections enforced: reading unmapped or unreadable bytes, or writing unwritable ones, is an error |
//! | shared memory | POSIX `shm_open` | named stores; the controller's side is [`write_shared_object`](SimulatedOs::write_shared_object) |
//! | libraries | `dlopen` / `dlsym` | a table the caller fills ([`add_library`](SimulatedOs::add_library), [`add_process_symbols`](SimulatedOs::add_process_symbols)); an unknown name fails as `dlopen` does |
//! | EH frames, GDB JIT | libgcc's registry, the JIT descriptor | recorded ([`eh_frames`](SimulatedOs::eh_frames), [`debug_objects`](SimulatedOs::debug_objects)) |
//! | code at an address | a call through a function pointer | a Rust function registered at that address ([`define_function`](SimulatedOs::define_function)); calling any other address is an error |
//! | published objects | their own addresses | fake addresses from [`OBJECT_BASE`](SimulatedOs::OBJECT_BASE) |

mod memory;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::{Error, ErrorKind};
use orc_rt::sps::memory::MemProt;
use orc_rt::sync::lock;
use orc_rt::wrapper::WrapperFunctionBuffer;

use super::{
    Library, Mapping, Os, content_too_large_error, fault_error, outside_mapping_error,
    outside_reservations_error,
};
use crate::testing::LiveResources;
use memory::AddressSpace;

/// A simulated legacy-ABI wrapper function.
type WrapperFn = dyn Fn(&[u8]) -> WrapperFunctionBuffer + Send + Sync;
/// A simulated `main`.
type MainFn = dyn Fn(&[&[u8]]) -> i32 + Send + Sync;

/// Code at a simulated address: a Rust function with the C signature the
/// executor calls that address with. Calling an address with another
/// signature than the one registered there is an error (in a real process
/// it would be undefined behaviour).
#[derive(Clone)]
pub enum SimulatedFunction {
    /// LLVM 22's legacy wrapper ABI, `CWrapperFunctionResult fn(const char
    /// *, size_t)`: alloc actions, and wrapper functions the controller
    /// calls by address.
    Wrapper(Arc<WrapperFn>),
    /// `int main(int argc, char **argv)`: gets argv without the null
    /// terminator.
    Main(Arc<MainFn>),
    /// `int fn(void)`.
    IntVoid(Arc<dyn Fn() -> i32 + Send + Sync>),
    /// `int fn(int)`.
    IntInt(Arc<dyn Fn(i32) -> i32 + Send + Sync>),
    /// `void fn(void)`.
    VoidVoid(Arc<dyn Fn() + Send + Sync>),
}

impl SimulatedFunction {
    /// A legacy-ABI wrapper function (alloc actions).
    pub fn wrapper(f: impl Fn(&[u8]) -> WrapperFunctionBuffer + Send + Sync + 'static) -> Self {
        SimulatedFunction::Wrapper(Arc::new(f))
    }

    /// A `main`.
    pub fn main(f: impl Fn(&[&[u8]]) -> i32 + Send + Sync + 'static) -> Self {
        SimulatedFunction::Main(Arc::new(f))
    }

    /// An `int fn(void)`.
    pub fn int_void(f: impl Fn() -> i32 + Send + Sync + 'static) -> Self {
        SimulatedFunction::IntVoid(Arc::new(f))
    }

    /// An `int fn(int)`.
    pub fn int_int(f: impl Fn(i32) -> i32 + Send + Sync + 'static) -> Self {
        SimulatedFunction::IntInt(Arc::new(f))
    }

    /// A `void fn(void)`.
    pub fn void_void(f: impl Fn() + Send + Sync + 'static) -> Self {
        SimulatedFunction::VoidVoid(Arc::new(f))
    }

    /// The C signature, for error messages.
    fn signature(&self) -> &'static str {
        match self {
            SimulatedFunction::Wrapper(_) => "a wrapper function",
            SimulatedFunction::Main(_) => "int main(int, char **)",
            SimulatedFunction::IntVoid(_) => "int(void)",
            SimulatedFunction::IntInt(_) => "int(int)",
            SimulatedFunction::VoidVoid(_) => "void(void)",
        }
    }
}

impl fmt::Debug for SimulatedFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimulatedFunction({})", self.signature())
    }
}

/// What an address of the function table holds.
#[derive(Clone)]
enum Function {
    /// Registered by the user.
    User(SimulatedFunction),
    /// Defined by a service through [`Os::define_wrapper`]: called with
    /// the instance, so the table holds no reference to it.
    Backend(fn(&SimulatedOs, &[u8]) -> WrapperFunctionBuffer),
}

/// One open library.
struct Loaded {
    name: Vec<u8>,
    handle: ExecutorAddr,
    /// Open handles (`dlopen` reference count).
    refs: usize,
}

struct State {
    memory: AddressSpace,
    next_object: u64,
    next_function: u64,
    functions: BTreeMap<u64, Function>,
    /// The library table: name → symbols.
    libraries: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, ExecutorAddr>>,
    process_symbols: BTreeMap<Vec<u8>, ExecutorAddr>,
    /// Open libraries, in load order (the global scope's search order).
    loaded: Vec<Loaded>,
    next_handle: u64,
    eh_frames: BTreeMap<u64, ExecutorAddrRange>,
    eh_registrations: u64,
    eh_deregistrations: u64,
    /// Newest first, as the JIT descriptor's list.
    debug_objects: Vec<ExecutorAddrRange>,
    live_shm_objects: usize,
    live_library_handles: usize,
}

struct Inner {
    seed: u64,
    page: u64,
    state: Mutex<State>,
}

/// A deterministic OS of its own (see the module docs): clone it to keep a
/// handle on what the services do with it. `SimulatedOs::new(seed)`, or
/// [`SimulatedOs::builder`] for another page size.
#[derive(Clone)]
pub struct SimulatedOs {
    inner: Arc<Inner>,
}

/// Configures a [`SimulatedOs`]; one builder can build several identical
/// instances.
#[derive(Debug, Clone)]
pub struct SimulatedOsBuilder {
    seed: u64,
    page_size: u64,
}

impl SimulatedOsBuilder {
    /// Shifts the mapping range (default 0): equal seeds give equal
    /// addresses.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// The page size (default 4096): a power of two from 64 bytes to 1 MiB.
    pub fn page_size(&mut self, bytes: u64) -> &mut Self {
        self.page_size = bytes;
        self
    }

    /// A new instance with nothing mapped, no library but the process, no
    /// function.
    pub fn build(&self) -> Result<SimulatedOs, Error> {
        let page = self.page_size;
        if !page.is_power_of_two() || !(64..=1 << 20).contains(&page) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("simulated page size {page:#x} is not a power of two from 64 to 1 MiB"),
            ));
        }
        let shift = splitmix64(self.seed) % SEED_SHIFTS * page;
        Ok(SimulatedOs {
            inner: Arc::new(Inner {
                seed: self.seed,
                page,
                state: Mutex::new(State {
                    memory: AddressSpace::new(
                        page,
                        SimulatedOs::MAPPING_BASE + shift,
                        SimulatedOs::MAPPING_END,
                    ),
                    next_object: SimulatedOs::OBJECT_BASE,
                    next_function: SimulatedOs::FUNCTION_BASE,
                    functions: BTreeMap::new(),
                    libraries: BTreeMap::new(),
                    process_symbols: BTreeMap::new(),
                    loaded: Vec::new(),
                    next_handle: SimulatedOs::PROCESS_HANDLE + STRIDE,
                    eh_frames: BTreeMap::new(),
                    eh_registrations: 0,
                    eh_deregistrations: 0,
                    debug_objects: Vec::new(),
                    live_shm_objects: 0,
                    live_library_handles: 0,
                }),
            }),
        })
    }
}

/// The seed shifts the first mapping by up to this many pages.
const SEED_SHIFTS: u64 = 1 << 20;
/// The distance between consecutive objects, functions and handles.
const STRIDE: u64 = 0x10;

/// SplitMix64's output function (the simulator's generator: `orc-sim`'s
/// `rng.rs`), so a seed spreads over the shifts.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn no_function(addr: ExecutorAddr) -> String {
    format!("no simulated function at {:#x}", addr.value())
}

impl SimulatedOs {
    /// Where published objects (service instances, wrapper functions) go,
    /// 16 bytes apart.
    pub const OBJECT_BASE: u64 = 0x1000_0000_0000;
    /// Where [`define_function`](Self::define_function) puts functions, 16
    /// bytes apart.
    pub const FUNCTION_BASE: u64 = 0x2000_0000_0000;
    /// The process's library handle; opened libraries get the next ones,
    /// 16 bytes apart.
    pub const PROCESS_HANDLE: u64 = 0x3000_0000_0000;
    /// Where mappings start, before the seed's shift (up to 2^20 pages).
    pub const MAPPING_BASE: u64 = 0x4000_0000_0000;
    /// The end of the range mappings may take.
    pub const MAPPING_END: u64 = 0x7000_0000_0000;

    /// An instance with 4 KiB pages whose mappings are placed by `seed`.
    pub fn new(seed: u64) -> SimulatedOs {
        SimulatedOs::builder()
            .seed(seed)
            .build()
            .expect("the default page size is valid")
    }

    /// A builder: seed 0, 4 KiB pages.
    pub fn builder() -> SimulatedOsBuilder {
        SimulatedOsBuilder {
            seed: 0,
            page_size: 4096,
        }
    }

    /// The seed this instance was built with.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Registers `function` at the next address of the function range and
    /// returns it.
    pub fn define_function(&self, function: SimulatedFunction) -> ExecutorAddr {
        self.add_function(Function::User(function))
    }

    fn add_function(&self, function: Function) -> ExecutorAddr {
        let mut st = self.state();
        let addr = st.next_function;
        st.next_function += STRIDE;
        st.functions.insert(addr, function);
        ExecutorAddr::new(addr)
    }

    /// Registers `function` at `addr` (anywhere, e.g. inside a reservation
    /// where the controller linked the code it stands for). Fails if `addr`
    /// is null or holds a function already.
    pub fn define_function_at(
        &self,
        addr: ExecutorAddr,
        function: SimulatedFunction,
    ) -> Result<(), Error> {
        if addr.is_null() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "cannot define a simulated function at address 0",
            ));
        }
        let mut st = self.state();
        if st.functions.contains_key(&addr.value()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "a simulated function is already defined at {:#x}",
                    addr.value()
                ),
            ));
        }
        st.functions.insert(addr.value(), Function::User(function));
        Ok(())
    }

    /// Adds (or replaces) the library `name` of the table, with these
    /// symbols. `open_library(name)` then succeeds (the name must match
    /// exactly); anything not in the table fails as `dlopen` does.
    pub fn add_library<N: Into<Vec<u8>>>(
        &self,
        name: impl Into<Vec<u8>>,
        symbols: impl IntoIterator<Item = (N, ExecutorAddr)>,
    ) {
        let symbols = symbols.into_iter().map(|(n, a)| (n.into(), a)).collect();
        self.state().libraries.insert(name.into(), symbols);
    }

    /// Adds symbols to the process itself (what the empty path opens).
    /// Lookups in the process also search every open library, in load
    /// order, as `dlsym` on the global scope does.
    pub fn add_process_symbols<N: Into<Vec<u8>>>(
        &self,
        symbols: impl IntoIterator<Item = (N, ExecutorAddr)>,
    ) {
        let mut st = self.state();
        for (n, a) in symbols {
            st.process_symbols.insert(n.into(), a);
        }
    }

    /// The names of the open libraries, in load order.
    pub fn loaded_libraries(&self) -> Vec<Vec<u8>> {
        self.state().loaded.iter().map(|l| l.name.clone()).collect()
    }

    /// The `.eh_frame` sections registered now, by address.
    pub fn eh_frames(&self) -> Vec<ExecutorAddrRange> {
        self.state().eh_frames.values().copied().collect()
    }

    /// How many `.eh_frame` registrations and deregistrations succeeded so
    /// far.
    pub fn eh_frame_counts(&self) -> (u64, u64) {
        let st = self.state();
        (st.eh_registrations, st.eh_deregistrations)
    }

    /// The debug objects registered now, newest first.
    pub fn debug_objects(&self) -> Vec<ExecutorAddrRange> {
        self.state().debug_objects.clone()
    }

    /// The live mappings, by address.
    pub fn mappings(&self) -> Vec<ExecutorAddrRange> {
        self.state()
            .memory
            .mappings()
            .map(|(b, len)| {
                ExecutorAddrRange::new(ExecutorAddr::new(b), ExecutorAddr::new(b + len))
            })
            .collect()
    }

    /// What this instance holds now, counted as
    /// [`testing::live_resources`](crate::testing::live_resources) counts
    /// the process's (no dispatcher threads here).
    pub fn live_resources(&self) -> LiveResources {
        let st = self.state();
        LiveResources {
            regions: st.memory.mappings().count(),
            shm_objects: st.live_shm_objects,
            dylib_handles: st.live_library_handles,
            eh_frames: st.eh_frames.len(),
            dispatch_threads: 0,
        }
    }

    /// Writes `bytes` at `offset` of the shared-memory object `name`, as the
    /// controller does through its own read+write mapping of it (whatever
    /// the executor's protection). Fails for an unknown name or a range
    /// past the object's end.
    pub fn write_shared_object(&self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.state().memory.write_object(name, offset, bytes)
    }

    /// Reads `len` bytes at `offset` of the shared-memory object `name`
    /// (the controller's view).
    pub fn read_shared_object(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.state().memory.read_object(name, offset, len)
    }

    /// Removes the name of a shared-memory object, as LLVM's controller
    /// does once it has mapped it; the executor's mapping keeps the bytes.
    pub fn unlink_shared_object(&self, name: &str) -> io::Result<()> {
        self.state().memory.unlink(name)
    }

    /// The function at `addr`, taken out of the table (calls run without
    /// the lock: a function may use this instance).
    fn function(&self, addr: ExecutorAddr) -> Option<Function> {
        self.state().functions.get(&addr.value()).cloned()
    }

    /// Runs a user function, turning a panic into an error.
    fn run_user<R>(&self, what: &str, f: impl FnOnce() -> R) -> Result<R, Error> {
        catch_unwind(AssertUnwindSafe(f)).map_err(|p| Error::from_panic(what, p.as_ref()))
    }

    /// The user function at `addr`, if it has `signature`.
    fn user_function(&self, addr: ExecutorAddr, what: &str) -> Result<SimulatedFunction, Error> {
        if addr.is_null() {
            return Err(crate::call::null_error(what));
        }
        match self.function(addr) {
            Some(Function::User(f)) => Ok(f),
            Some(Function::Backend(_)) => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the simulated function at {:#x} is a wrapper function, not {what}",
                    addr.value()
                ),
            )),
            None => Err(Error::new(ErrorKind::InvalidArgument, no_function(addr))),
        }
    }

    fn wrong_signature(addr: ExecutorAddr, f: &SimulatedFunction, wanted: &str) -> Error {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "the simulated function at {:#x} is {}, not {wanted}",
                addr.value(),
                f.signature()
            ),
        )
    }
}

impl fmt::Debug for SimulatedOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("SimulatedOs")
            .field("seed", &self.inner.seed)
            .field("page_size", &self.inner.page)
            .field("mappings", &st.memory.mappings().count())
            .field("functions", &st.functions.len())
            .field("loaded_libraries", &st.loaded.len())
            .finish()
    }
}

/// A mapping of a [`SimulatedOs`]; unmapped when dropped.
pub struct SimulatedMapping {
    os: SimulatedOs,
    base: u64,
    len: u64,
}

impl fmt::Debug for SimulatedMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SimulatedMapping({:#x}..{:#x})",
            self.base,
            self.base + self.len
        )
    }
}

impl SimulatedMapping {
    /// Checks that `[addr, addr + len)` lies inside the mapping.
    fn check(&self, addr: ExecutorAddr, len: u64) -> io::Result<()> {
        let inside = addr
            .value()
            .checked_sub(self.base)
            .and_then(|off| off.checked_add(len))
            .is_some_and(|end| end <= self.len);
        if inside {
            Ok(())
        } else {
            Err(outside_mapping_error(addr, len, self.range()))
        }
    }
}

impl Mapping for SimulatedMapping {
    fn range(&self) -> ExecutorAddrRange {
        ExecutorAddrRange::new(
            ExecutorAddr::new(self.base),
            ExecutorAddr::new(self.base + self.len),
        )
    }

    fn fill(&self, addr: ExecutorAddr, len: u64, content: &[u8]) -> io::Result<()> {
        if content.len() as u64 > len {
            return Err(content_too_large_error());
        }
        self.check(addr, len)?;
        if len == 0 {
            return Ok(());
        }
        let mut st = self.os.state();
        st.memory
            .protect(self.base, addr.value(), len, MemProt::READ | MemProt::WRITE);
        st.memory.copy_in(addr.value(), content);
        let tail = addr.value() + content.len() as u64;
        st.memory.zero(self.base, tail, len - content.len() as u64);
        Ok(())
    }

    fn protect(&self, addr: ExecutorAddr, len: u64, prot: MemProt) -> io::Result<()> {
        self.check(addr, len)?;
        self.os
            .state()
            .memory
            .protect(self.base, addr.value(), len, prot);
        Ok(())
    }

    fn flush_icache(&self, addr: ExecutorAddr, len: u64) -> io::Result<()> {
        self.check(addr, len)
    }
}

impl Drop for SimulatedMapping {
    fn drop(&mut self) {
        let mut st = self.os.state();
        if st.memory.unmap(self.base) {
            st.live_shm_objects -= 1;
        }
    }
}

/// A library of a [`SimulatedOs`]'s table, or its process; closed when
/// dropped.
pub struct SimulatedLibrary {
    os: SimulatedOs,
    handle: ExecutorAddr,
    /// `None` for the process.
    name: Option<Vec<u8>>,
}

impl fmt::Debug for SimulatedLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "SimulatedLibrary({})", String::from_utf8_lossy(n)),
            None => f.write_str("SimulatedLibrary(process)"),
        }
    }
}

impl Library for SimulatedLibrary {
    fn handle(&self) -> ExecutorAddr {
        self.handle
    }

    fn symbol(&self, name: &[u8]) -> Option<ExecutorAddr> {
        let st = self.os.state();
        let found = match &self.name {
            Some(lib) => st.libraries.get(lib).and_then(|s| s.get(name)).copied(),
            None => st.process_symbols.get(name).copied().or_else(|| {
                st.loaded
                    .iter()
                    .find_map(|l| st.libraries.get(&l.name)?.get(name).copied())
            }),
        };
        found.filter(|a| !a.is_null())
    }
}

impl Drop for SimulatedLibrary {
    fn drop(&mut self) {
        if self.name.is_none() {
            return;
        }
        let mut st = self.os.state();
        st.live_library_handles -= 1;
        if let Some(i) = st.loaded.iter().position(|l| l.handle == self.handle) {
            st.loaded[i].refs -= 1;
            if st.loaded[i].refs == 0 {
                st.loaded.remove(i);
            }
        }
    }
}

impl Os for SimulatedOs {
    type Mapping = SimulatedMapping;
    type Library = SimulatedLibrary;

    fn page_size(&self) -> u64 {
        self.inner.page
    }

    fn published_address(&self) -> Option<ExecutorAddr> {
        let mut st = self.state();
        let addr = st.next_object;
        st.next_object += STRIDE;
        Some(ExecutorAddr::new(addr))
    }

    fn map(&self, len: u64) -> io::Result<SimulatedMapping> {
        let base = self.state().memory.map_private(len)?;
        Ok(SimulatedMapping {
            os: self.clone(),
            base,
            len,
        })
    }

    fn shared_memory_name(&self, serial: u64) -> String {
        format!("/orc_rt_sim_{serial}")
    }

    fn map_shared(&self, name: &str, len: u64) -> io::Result<SimulatedMapping> {
        let mut st = self.state();
        let base = st.memory.map_shared(name, len)?;
        st.live_shm_objects += 1;
        Ok(SimulatedMapping {
            os: self.clone(),
            base,
            len,
        })
    }

    fn write(
        &self,
        targets: &[&SimulatedMapping],
        writes: &[(ExecutorAddr, &[u8])],
    ) -> io::Result<()> {
        for &(addr, bytes) in writes {
            // A mapping of another instance is no target here.
            let inside = targets.iter().any(|m| {
                Arc::ptr_eq(&m.os.inner, &self.inner) && m.check(addr, bytes.len() as u64).is_ok()
            });
            if !inside {
                return Err(outside_reservations_error(addr, bytes.len()));
            }
        }
        let mut st = self.state();
        for &(addr, bytes) in writes {
            if !st
                .memory
                .accessible(addr.value(), bytes.len() as u64, MemProt::WRITE)
            {
                return Err(fault_error(addr.value(), bytes.len()));
            }
            st.memory.copy_in(addr.value(), bytes);
        }
        Ok(())
    }

    fn read(&self, reads: &mut [(ExecutorAddr, &mut [u8])]) -> io::Result<()> {
        let st = self.state();
        for (addr, buf) in reads.iter_mut() {
            if !st
                .memory
                .accessible(addr.value(), buf.len() as u64, MemProt::READ)
            {
                return Err(fault_error(addr.value(), buf.len()));
            }
            st.memory.copy_out(addr.value(), buf);
        }
        Ok(())
    }

    fn open_process(&self) -> Result<SimulatedLibrary, String> {
        Ok(SimulatedLibrary {
            os: self.clone(),
            handle: ExecutorAddr::new(SimulatedOs::PROCESS_HANDLE),
            name: None,
        })
    }

    fn open_library(&self, path: &[u8]) -> Result<SimulatedLibrary, String> {
        let shown = String::from_utf8_lossy(path);
        if path.contains(&0) {
            return Err(format!("{shown}: library path contains a NUL byte"));
        }
        let mut st = self.state();
        if !st.libraries.contains_key(path) {
            // glibc's words.
            return Err(format!(
                "{shown}: cannot open shared object file: No such file or directory"
            ));
        }
        let handle = match st.loaded.iter_mut().find(|l| l.name == path) {
            Some(l) => {
                l.refs += 1;
                l.handle
            }
            None => {
                let handle = ExecutorAddr::new(st.next_handle);
                st.next_handle += STRIDE;
                st.loaded.push(Loaded {
                    name: path.to_vec(),
                    handle,
                    refs: 1,
                });
                handle
            }
        };
        st.live_library_handles += 1;
        Ok(SimulatedLibrary {
            os: self.clone(),
            handle,
            name: Some(path.to_vec()),
        })
    }

    /// No C++ runtime here: nothing to construct.
    fn init_cxx_streams(&self, _ctor: ExecutorAddr) {}

    fn register_eh_frame(&self, section: ExecutorAddrRange) -> Result<(), String> {
        if section.is_empty() || section.start.is_null() {
            return Err(format!(
                "cannot register an empty eh-frame section at {:#x}",
                section.start.value()
            ));
        }
        // As the real registry: the section must be readable (the unwinder
        // parses it lazily), checked up to its first MiB.
        let probe = section.size().min(1 << 20);
        let mut st = self.state();
        if !st
            .memory
            .accessible(section.start.value(), probe, MemProt::READ)
        {
            return Err(format!(
                "cannot register eh-frame section: {}",
                fault_error(section.start.value(), probe as usize)
            ));
        }
        if st.eh_frames.contains_key(&section.start.value()) {
            return Err(format!(
                "eh-frame section at {:#x} is already registered",
                section.start.value()
            ));
        }
        st.eh_frames.insert(section.start.value(), section);
        st.eh_registrations += 1;
        Ok(())
    }

    fn deregister_eh_frame(&self, section: ExecutorAddrRange) -> Result<(), String> {
        let mut st = self.state();
        if st.eh_frames.remove(&section.start.value()).is_none() {
            return Err(format!(
                "eh-frame section at {:#x} is not registered",
                section.start.value()
            ));
        }
        st.eh_deregistrations += 1;
        Ok(())
    }

    fn register_debug_object(
        &self,
        object: ExecutorAddrRange,
        _notify: bool,
    ) -> Result<(), String> {
        if object.is_empty() || object.start.is_null() {
            return Err("cannot register an empty debug object".to_owned());
        }
        self.state().debug_objects.insert(0, object);
        Ok(())
    }

    fn deregister_debug_object(&self, object: ExecutorAddrRange) -> Result<(), String> {
        let mut st = self.state();
        match st
            .debug_objects
            .iter()
            .position(|o| o.start == object.start)
        {
            Some(i) => {
                st.debug_objects.remove(i);
                Ok(())
            }
            None => Err(format!(
                "no debug object is registered at {:#x}",
                object.start.value()
            )),
        }
    }

    fn define_wrapper(
        &self,
        function: fn(&Self, &[u8]) -> WrapperFunctionBuffer,
    ) -> Option<ExecutorAddr> {
        Some(self.add_function(Function::Backend(function)))
    }

    fn call_wrapper(&self, function: ExecutorAddr, args: &[u8]) -> WrapperFunctionBuffer {
        if function.is_null() {
            return WrapperFunctionBuffer::from_error(&crate::call::null_error(
                "a wrapper function",
            ));
        }
        let result = match self.function(function) {
            Some(Function::Backend(f)) => self.run_user("wrapper function", || f(self, args)),
            Some(Function::User(SimulatedFunction::Wrapper(f))) => {
                self.run_user("wrapper function", || f(args))
            }
            Some(Function::User(other)) => Err(Self::wrong_signature(
                function,
                &other,
                "a wrapper function",
            )),
            None => Err(Error::new(
                ErrorKind::InvalidArgument,
                no_function(function),
            )),
        };
        result.unwrap_or_else(|e| WrapperFunctionBuffer::from_error(&e))
    }

    fn run_main(&self, main: ExecutorAddr, args: &[&[u8]]) -> Result<i32, Error> {
        let f = self.user_function(main, "main")?;
        // The checks the real call makes before it builds argv.
        if args.iter().any(|a| a.contains(&0)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "program argument contains a NUL byte",
            ));
        }
        if i32::try_from(args.len()).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "too many program arguments",
            ));
        }
        match f {
            SimulatedFunction::Main(f) => self.run_user("simulated main", || f(args)),
            other => Err(Self::wrong_signature(
                main,
                &other,
                "int main(int, char **)",
            )),
        }
    }

    fn run_int_void(&self, function: ExecutorAddr) -> Result<i32, Error> {
        match self.user_function(function, "a function")? {
            SimulatedFunction::IntVoid(f) => self.run_user("simulated function", || f()),
            other => Err(Self::wrong_signature(function, &other, "int(void)")),
        }
    }

    fn run_int_int(&self, function: ExecutorAddr, arg: i32) -> Result<i32, Error> {
        match self.user_function(function, "a function")? {
            SimulatedFunction::IntInt(f) => self.run_user("simulated function", || f(arg)),
            other => Err(Self::wrong_signature(function, &other, "int(int)")),
        }
    }

    fn run_void_void(&self, function: ExecutorAddr) -> Result<(), Error> {
        match self.user_function(function, "a function")? {
            SimulatedFunction::VoidVoid(f) => self.run_user("simulated function", || f()),
            other => Err(Self::wrong_signature(function, &other, "void(void)")),
        }
    }
}
