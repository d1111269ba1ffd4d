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
    grow_pipe(fd);
    // SAFETY: the descriptor is open (checked) and, by the command-line
    // contract, given to us to own: nothing else in the process uses it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `fd` is a socket (`getsockopt(SO_TYPE)` answers).
pub(crate) fn is_socket(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let mut ty: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_TYPE writes one c_int into `ty`, whose size `len` gives;
    // the descriptor is borrowed, so it is open for the call.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut ty).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// Shuts a socket down both ways (`shutdown(2)`): the peer reads end of
/// stream and a read blocked on it returns, even while other descriptors
/// of the same socket stay open. Best effort.
pub(crate) fn shutdown_socket(fd: std::os::fd::BorrowedFd<'_>) {
    // SAFETY: shutdown only changes the socket's state; the descriptor is
    // borrowed, so it is open for the call.
    unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::SHUT_RDWR) };
}

/// The pipe buffer we ask for: a 1 MiB bulk write then crosses in one
/// `write`/`read` pair instead of sixteen 64 KiB hand-offs (each a context
/// switch on both sides). Linux caps it at `/proc/sys/fs/pipe-max-size`
/// (1 MiB by default) for unprivileged processes.
const PIPE_BUFFER: libc::c_int = 1 << 20;

/// Enlarges the kernel buffer of `fd` if it is a pipe; best effort (other
/// descriptors, or a refused size, keep what they have).
fn grow_pipe(fd: RawFd) {
    // SAFETY: fstat fills a zeroed stat for an open descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return;
    }
    // SAFETY: F_GETPIPE_SZ/F_SETPIPE_SZ only size the pipe's kernel buffer.
    unsafe {
        if libc::fcntl(fd, libc::F_GETPIPE_SZ) < PIPE_BUFFER {
            libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_BUFFER);
        }
    }
}

/// Whether either descriptor has bytes to read (or its end of stream, or
/// an error) within `timeout` (`None`: wait as long as it takes).
pub(crate) fn poll_readable(
    fds: [std::os::fd::BorrowedFd<'_>; 2],
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    let entry = |fd: std::os::fd::BorrowedFd<'_>| libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut pfds = [entry(fds[0]), entry(fds[1])];
    let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    // SAFETY: two valid pollfds; the descriptors are borrowed, so they stay
    // open for the call.
    match unsafe { libc::poll(pfds.as_mut_ptr(), 2, timeout_ms) } {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn adopted_pipes_get_a_larger_buffer() {
        let mut fds = [0; 2];
        // SAFETY: pipe fills two descriptors we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let r = super::adopt(fds[0]).unwrap();
        let _w = super::adopt(fds[1]).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: querying our own descriptor.
        let size = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETPIPE_SZ) };
        let max: i32 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        assert!(size >= super::PIPE_BUFFER.min(max), "{size} (max {max})");
    }

    #[test]
    fn sockets_are_told_from_pipes() {
        use std::os::fd::AsFd;
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(super::is_socket(a.as_fd()));
        let (r, _w) = std::io::pipe().unwrap();
        assert!(!super::is_socket(r.as_fd()));
    }

    #[test]
    fn closed_and_negative_descriptors_are_refused() {
        assert!(super::adopt(-1).is_err());
        assert!(super::adopt(987_654).is_err());
    }
}
