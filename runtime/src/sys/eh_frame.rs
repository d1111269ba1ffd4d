//! The unwinder's frame registry (libgcc's `__register_frame`), so C++
//! exceptions can unwind through JIT'd code.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::addr::ExecutorAddrRange;

unsafe extern "C" {
    // libgcc_s (linked by Rust's std on GNU targets): takes the start of a
    // whole .eh_frame section ending in a zero terminator.
    fn __register_frame(begin: *const u8);
    fn __deregister_frame(begin: *const u8);
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
    unsafe { __register_frame(range.start.to_ptr::<u8>()) };
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
    // SAFETY: registered by `register` and not deregistered since (the set
    // says so), so libgcc knows it and will not abort.
    unsafe { __deregister_frame(range.start.to_ptr::<u8>()) };
    super::live::EH_FRAMES.down();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::ExecutorAddr;

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
        let section: &'static [u8; 8] = Box::leak(Box::new([0u8; 8]));
        let range = ExecutorAddrRange::of_slice(section);
        register(range).unwrap();
        assert!(register(range).unwrap_err().contains("already"));
        deregister(range).unwrap();
        assert!(deregister(range).is_err());
    }
}
