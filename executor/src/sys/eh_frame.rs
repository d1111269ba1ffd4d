//! The unwinder's frame registry (libgcc's `__register_frame`), so C++
//! exceptions can unwind through JIT'd code.

use std::collections::HashSet;
use std::ffi::{CStr, c_void};
use std::sync::{Mutex, OnceLock};

use orc_rt::addr::ExecutorAddrRange;

/// The unwinder that JIT'd code's exceptions go through.
///
/// Looked up at run time rather than linked: JIT'd C++ code throws through
/// libstdc++, which unwinds with the shared libgcc_s, and glibc uses that
/// copy too (`backtrace`, thread cancellation), so JIT'd frames must be in
/// its registry. orc-executor does not link libgcc_s (it carries its own
/// unwinder for Rust panics, see `executor/build.rs`): loading libgcc_s
/// only when the first section is registered keeps it out of every session
/// that never registers one. In a process that links it already (Rust on
/// glibc does by default) this finds that copy.
struct Unwinder {
    /// `void __register_frame(void *begin)`: takes the start of a whole
    /// .eh_frame section ending in a zero terminator.
    register: FrameFn,
    deregister: FrameFn,
}

type FrameFn = unsafe extern "C" fn(*const u8);

const LIBGCC_S: &CStr = c"libgcc_s.so.1";

fn unwinder() -> Result<&'static Unwinder, String> {
    static UNWINDER: OnceLock<Result<Unwinder, String>> = OnceLock::new();
    UNWINDER
        .get_or_init(|| {
            // SAFETY: a NUL-terminated soname; running libgcc_s's
            // initializers is what loading it is for. Global, as it is for
            // a program that links it; never closed (process lifetime).
            let handle =
                unsafe { libc::dlopen(LIBGCC_S.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if handle.is_null() {
                return Err(format!(
                    "cannot load the unwinder ({LIBGCC_S:?}): {}",
                    super::dylib::last_dl_error("not found")
                ));
            }
            let function = |name: &CStr| -> Result<FrameFn, String> {
                // SAFETY: a live handle and a NUL-terminated name.
                let f = unsafe { libc::dlsym(handle, name.as_ptr()) };
                if f.is_null() {
                    return Err(format!("the unwinder has no {name:?}"));
                }
                // SAFETY: libgcc_s's function of that name, whose C
                // signature is `void (void *)`.
                Ok(unsafe { std::mem::transmute::<*mut c_void, FrameFn>(f) })
            };
            Ok(Unwinder {
                register: function(c"__register_frame")?,
                deregister: function(c"__deregister_frame")?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Section starts registered through this module: libgcc aborts when asked
/// to deregister a frame it does not know, so we check first.
static REGISTERED: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

fn registered() -> std::sync::MutexGuard<'static, Option<HashSet<u64>>> {
    REGISTERED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers the `.eh_frame` section in `range`.
pub(crate) fn register(range: ExecutorAddrRange) -> Result<(), String> {
    if range.is_empty() || range.start.is_null() {
        return Err(format!(
            "cannot register an empty eh-frame section at {:#x}",
            range.start.value()
        ));
    }
    // The unwinder parses the section lazily and would crash on an unmapped
    // one; a fault-checked read proves the bytes are there.
    let len = usize::try_from(range.size()).map_err(|_| "eh-frame section too large".to_owned())?;
    let mut probe = vec![0u8; len.min(1 << 20)];
    super::memory::read_checked(&mut [(range.start, &mut probe[..])])
        .map_err(|e| format!("cannot register eh-frame section: {e}"))?;
    let unwinder = unwinder().map_err(|e| format!("cannot register eh-frame section: {e}"))?;
    let mut set = registered();
    if !set
        .get_or_insert_with(HashSet::new)
        .insert(range.start.value())
    {
        return Err(format!(
            "eh-frame section at {:#x} is already registered",
            range.start.value()
        ));
    }
    // SAFETY: the section is mapped and readable (checked above); its
    // contents are the controller's JIT-linked .eh_frame, which libgcc
    // reads as long as it stays registered (deregistered before release).
    unsafe { (unwinder.register)(range.start.to_ptr::<u8>()) };
    super::live::EH_FRAMES.up();
    Ok(())
}

/// Deregisters a section registered by [`register`].
pub(crate) fn deregister(range: ExecutorAddrRange) -> Result<(), String> {
    let mut set = registered();
    if !set.as_mut().is_some_and(|s| s.remove(&range.start.value())) {
        return Err(format!(
            "eh-frame section at {:#x} is not registered",
            range.start.value()
        ));
    }
    let unwinder = unwinder().map_err(|e| format!("cannot deregister eh-frame section: {e}"))?;
    // SAFETY: registered by `register` (with this unwinder: it never
    // changes) and not deregistered since (the set says so), so libgcc
    // knows it and will not abort.
    unsafe { (unwinder.deregister)(range.start.to_ptr::<u8>()) };
    super::live::EH_FRAMES.down();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_rt::addr::ExecutorAddr;

    #[test]
    fn bad_ranges_are_refused_without_touching_the_unwinder() {
        let null = ExecutorAddrRange::new(ExecutorAddr::NULL, ExecutorAddr::new(16));
        assert!(register(null).unwrap_err().contains("empty"));
        let unmapped = ExecutorAddrRange::new(ExecutorAddr::new(0x10), ExecutorAddr::new(0x20));
        assert!(register(unmapped).unwrap_err().contains("cannot"));
        assert!(deregister(unmapped).unwrap_err().contains("not registered"));
    }

    #[test]
    fn a_terminator_only_section_registers_and_deregisters_once() {
        // A section holding only the zero terminator is valid and empty.
        // A static, not a leaked box: once deregistered nothing points to
        // it, which valgrind reports as a leak (scripts/asan.sh).
        static SECTION: [u8; 8] = [0u8; 8];
        let section: &'static [u8; 8] = &SECTION;
        let range = ExecutorAddrRange::of_slice(section);
        register(range).unwrap();
        assert!(register(range).unwrap_err().contains("already"));
        deregister(range).unwrap();
        assert!(deregister(range).is_err());
    }
}
