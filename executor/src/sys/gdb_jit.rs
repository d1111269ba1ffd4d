//! The GDB JIT interface (GDB manual, "JIT Compilation Interface"): a
//! descriptor and a breakpoint function with fixed names that debuggers
//! look up in the process, and a list of in-memory debug objects.

use std::cell::UnsafeCell;
use std::ptr;
use std::sync::Mutex;

use orc_rt::addr::ExecutorAddrRange;

/// One debug object (GDB's `struct jit_code_entry`).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct JitCodeEntry {
    next_entry: *mut JitCodeEntry,
    prev_entry: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// GDB's `struct jit_descriptor`.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

const JIT_REGISTER_FN: u32 = 1;
const JIT_UNREGISTER_FN: u32 = 2;

/// The descriptor, shared with the debugger (which reads it while the
/// process is stopped); we only touch it under [`LOCK`].
#[repr(transparent)]
pub(crate) struct SharedDescriptor(UnsafeCell<JitDescriptor>);

// SAFETY: every access goes through `LOCK`; the debugger reads it only
// while the process is stopped.
unsafe impl Sync for SharedDescriptor {}

/// The symbol GDB and LLDB look for.
#[unsafe(no_mangle)]
#[used]
pub(crate) static __jit_debug_descriptor: SharedDescriptor =
    SharedDescriptor(UnsafeCell::new(JitDescriptor {
        version: 1,
        action_flag: 0,
        relevant_entry: ptr::null_mut(),
        first_entry: ptr::null_mut(),
    }));

/// The function debuggers set a breakpoint on; called after each change.
#[unsafe(no_mangle)]
#[inline(never)]
pub(crate) extern "C" fn __jit_debug_register_code() {
    // Keep the call from being optimised away: the debugger needs to stop here.
    std::hint::black_box(());
}

static LOCK: Mutex<()> = Mutex::new(());

/// Adds the debug object in `object` to the list; if `notify`, calls the
/// breakpoint function so an attached debugger reads it now.
pub(crate) fn register(object: ExecutorAddrRange, notify: bool) -> Result<(), String> {
    if object.is_empty() || object.start.is_null() {
        return Err("cannot register an empty debug object".to_owned());
    }
    let entry = Box::into_raw(Box::new(JitCodeEntry {
        next_entry: ptr::null_mut(),
        prev_entry: ptr::null_mut(),
        symfile_addr: object.start.to_ptr::<u8>(),
        symfile_size: object.size(),
    }));
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let desc = __jit_debug_descriptor.0.get();
    // SAFETY: we hold LOCK, so nothing else reads or writes the descriptor
    // or the entries (a debugger only reads them while we are stopped);
    // `entry` is a fresh allocation that the list owns from now on (entries
    // live as long as the process, as in LLVM's executor).
    unsafe {
        (*entry).next_entry = (*desc).first_entry;
        if !(*desc).first_entry.is_null() {
            (*(*desc).first_entry).prev_entry = entry;
        }
        (*desc).first_entry = entry;
        (*desc).relevant_entry = entry;
        (*desc).action_flag = JIT_REGISTER_FN;
    }
    if notify {
        __jit_debug_register_code();
    }
    Ok(())
}

/// Removes the debug object that starts at `object.start` from the list
/// (upstream orc-rt's `GDBJITRegistrar` deregister), telling an attached
/// debugger first, then frees its entry.
pub(crate) fn deregister(object: ExecutorAddrRange) -> Result<(), String> {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let desc = __jit_debug_descriptor.0.get();
    let wanted = object.start.to_ptr::<u8>().cast_const();
    // SAFETY: under LOCK (see `register`); entries were allocated by
    // `register` with Box and are only freed here, after being unlinked.
    unsafe {
        let mut cur = (*desc).first_entry;
        while !cur.is_null() && (*cur).symfile_addr != wanted {
            cur = (*cur).next_entry;
        }
        if cur.is_null() {
            return Err(format!(
                "no debug object is registered at {:#x}",
                object.start.value()
            ));
        }
        let (prev, next) = ((*cur).prev_entry, (*cur).next_entry);
        if prev.is_null() {
            (*desc).first_entry = next;
        } else {
            (*prev).next_entry = next;
        }
        if !next.is_null() {
            (*next).prev_entry = prev;
        }
        (*desc).relevant_entry = cur;
        (*desc).action_flag = JIT_UNREGISTER_FN;
        __jit_debug_register_code();
        (*desc).relevant_entry = ptr::null_mut();
        drop(Box::from_raw(cur));
    }
    Ok(())
}

/// The last entry of the list (the one `first_entry` leads to in the end),
/// or null: what `llvm-jitlink-executor test-jitloadergdb` prints.
pub fn last_entry() -> orc_rt::addr::ExecutorAddr {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: under LOCK; entries are never freed.
    let mut cur = unsafe { (*__jit_debug_descriptor.0.get()).first_entry };
    // SAFETY: as above.
    while !cur.is_null() && !unsafe { (*cur).next_entry }.is_null() {
        // SAFETY: as above.
        cur = unsafe { (*cur).next_entry };
    }
    orc_rt::addr::ExecutorAddr::from_ptr(cur)
}

/// The number of registered entries.
#[cfg(test)]
pub(crate) fn entry_count() -> usize {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = 0;
    // SAFETY: under LOCK; entries are never freed.
    let mut cur = unsafe { (*__jit_debug_descriptor.0.get()).first_entry };
    while !cur.is_null() {
        n += 1;
        // SAFETY: as above.
        cur = unsafe { (*cur).next_entry };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_rt::addr::ExecutorAddr;

    #[test]
    fn registering_prepends_an_entry() {
        let before = entry_count();
        let object: &'static [u8] = Box::leak(vec![0x7f, b'E', b'L', b'F'].into_boxed_slice());
        register(ExecutorAddrRange::of_slice(object), true).unwrap();
        assert_eq!(entry_count(), before + 1);
        assert!(!last_entry().is_null());
        let empty = ExecutorAddrRange::new(ExecutorAddr::new(64), ExecutorAddr::new(64));
        assert!(register(empty, false).is_err());
    }

    #[test]
    fn deregistering_unlinks_the_entry() {
        // A static, not a leaked box: once deregistered nothing points to
        // it, which valgrind reports as a leak (scripts/asan.sh).
        static OBJECT: [u8; 5] = [0x7f, b'E', b'L', b'F', 2];
        let object: &'static [u8] = &OBJECT;
        let range = ExecutorAddrRange::of_slice(object);
        register(range, true).unwrap();
        let with = entry_count();
        deregister(range).unwrap();
        assert_eq!(entry_count(), with - 1);
        assert!(
            deregister(range)
                .unwrap_err()
                .starts_with("no debug object is registered at 0x")
        );
    }
}
