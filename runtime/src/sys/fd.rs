//! File descriptors handed to us on the command line.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of `fd`, which the process inherited (e.g. from
/// `filedescs=R,W`). Fails if it is not an open descriptor. Marks it
/// close-on-exec so programs started by JIT'd code do not keep the
/// controller's pipes open.
pub(crate) fn adopt(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only queries the descriptor table.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; setting FD_CLOEXEC on an open descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    // SAFETY: the descriptor is open (checked) and, by the command-line
    // contract, given to us to own: nothing else in the process uses it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn closed_and_negative_descriptors_are_refused() {
        assert!(super::adopt(-1).is_err());
        assert!(super::adopt(987_654).is_err());
    }
}
