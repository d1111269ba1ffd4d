//! Shared libraries: `dlopen`, `dlsym`, `dlclose`.

use std::ffi::{CStr, CString, c_void};
use std::ptr;

use orc_rt::addr::ExecutorAddr;

/// An open library handle (or the process's global scope).
#[derive(Debug)]
pub(crate) struct Library {
    handle: *mut c_void,
    /// False for the process handle, which is never closed.
    close_on_drop: bool,
}

// SAFETY: dl* handles may be used from any thread (the loader locks).
unsafe impl Send for Library {}
// SAFETY: as above.
unsafe impl Sync for Library {}

/// The loader's last error message for this thread.
pub(super) fn last_dl_error(fallback: &str) -> String {
    // SAFETY: dlerror returns null or a NUL-terminated thread-local string,
    // which we copy before any other dl* call can overwrite it.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        fallback.to_owned()
    } else {
        // SAFETY: non-null, NUL-terminated (above).
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Library {
    /// The process itself: looks symbols up in the global scope (the
    /// executable, its dependencies, and every library opened globally).
    pub(crate) fn process() -> Result<Library, String> {
        // SAFETY: dlopen(NULL) returns the main program's handle.
        let handle = unsafe { libc::dlopen(ptr::null(), libc::RTLD_LAZY | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            return Err(last_dl_error("dlopen of the process failed"));
        }
        Ok(Library {
            handle,
            close_on_drop: false,
        })
    }

    /// Opens `path` (a file name searched like the dynamic linker does, or a
    /// path) with global symbol visibility, as LLVM's
    /// `DynamicLibrary::getPermanentLibrary` does.
    pub(crate) fn open(path: &[u8]) -> Result<Library, String> {
        let c_path = CString::new(path).map_err(|_| {
            format!(
                "{}: library path contains a NUL byte",
                String::from_utf8_lossy(path)
            )
        })?;
        // SAFETY: a NUL-terminated path. Running the library's initializers
        // is the point of loading it.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            return Err(last_dl_error("dlopen failed"));
        }
        super::live::DYLIB_HANDLES.up();
        Ok(Library {
            handle,
            close_on_drop: true,
        })
    }

    /// The address of `name`, or `None` if it is not defined (or is null,
    /// which LLVM's executor reports as not found too).
    pub(crate) fn symbol(&self, name: &[u8]) -> Option<ExecutorAddr> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: a live handle and a NUL-terminated name.
        let addr = unsafe { libc::dlsym(self.handle, c_name.as_ptr()) };
        (!addr.is_null()).then(|| ExecutorAddr::from_ptr(addr))
    }

    /// The handle's address (an opaque token for logs).
    pub(crate) fn raw(&self) -> ExecutorAddr {
        ExecutorAddr::from_ptr(self.handle)
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        if self.close_on_drop {
            // SAFETY: a handle we opened and close exactly once.
            unsafe { libc::dlclose(self.handle) };
            super::live::DYLIB_HANDLES.down();
        }
    }
}

/// Constructs one `std::ios_base::Init` object with the constructor at
/// `ctor` (`_ZNSt8ios_base4InitC1Ev`), which initializes libstdc++'s
/// standard streams. A C++ program does this from a static constructor of
/// every file including `<iostream>` (libstdc++ before GCC 13) — which JIT'd
/// code without the ORC runtime never runs, and which a C++ executor has run
/// for its own sake. Never destroyed: the streams stay usable until exit,
/// and stdio flushes their (synced) output then.
pub(crate) fn construct_ios_base_init(ctor: ExecutorAddr) {
    /// `ios_base::Init` has no data members (size 1); a few aligned bytes
    /// that live forever hold it.
    #[repr(C, align(16))]
    struct Storage([u8; 16]);
    /// Every object constructed, kept reachable: they are never destroyed,
    /// and a leak checker (LeakSanitizer, valgrind) must not report them.
    static OBJECTS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    let storage: &'static mut Storage = Box::leak(Box::new(Storage([0; 16])));
    OBJECTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(&raw const *storage as usize);
    type Ctor = unsafe extern "C" fn(*mut Storage);
    // SAFETY: `ctor` is libstdc++'s complete-object constructor of
    // ios_base::Init (looked up by its mangled name by the caller), which
    // takes `this` and needs one byte of storage that outlives the object;
    // ours is never freed.
    unsafe { std::mem::transmute::<usize, Ctor>(ctor.value() as usize)(storage) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_handle_finds_libc() {
        let p = Library::process().unwrap();
        assert!(p.symbol(b"malloc").is_some());
        assert!(p.symbol(b"no_such_symbol_for_orc_rt_tests").is_none());
        assert!(p.symbol(b"bad\0name").is_none());
    }

    #[test]
    fn opening_a_missing_library_gives_the_loader_message() {
        let err = Library::open(b"libnope.so.9").unwrap_err();
        assert!(err.contains("libnope.so.9"), "{err}");
        assert!(Library::open(b"a\0b").unwrap_err().contains("NUL"));
    }

    #[test]
    fn opening_libm_by_soname_resolves_its_symbols() {
        let m = Library::open(b"libm.so.6").unwrap();
        assert!(m.symbol(b"cos").is_some());
    }
}
