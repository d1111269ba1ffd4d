//! File descriptors handed to us on the command line.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

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

/// Retries `f` while it fails with `EINTR`; `EAGAIN` becomes `Ok(0)`
/// (nothing was transferred, the descriptor being non-blocking).
fn nonblocking_io(mut f: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = f();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => return Ok(0),
            _ => return Err(e),
        }
    }
}

/// Whether `fd` is a socket.
pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: fstat fills a zeroed stat for a borrowed, hence open, descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        libc::fstat(fd.as_raw_fd(), &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    }
}

/// Sets `O_NONBLOCK` on `fd` (its open file description).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a borrowed descriptor only change its
    // status flags.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A fresh eventfd, non-blocking and close-on-exec, with a zero count: it
/// is readable while its count is not zero. A lighter wake-up signal than a
/// pipe (one descriptor and no pipe buffer: a session makes two, and each
/// pipe cost about 3 us more to make and close in a VM).
pub(crate) fn event() -> io::Result<OwnedFd> {
    // SAFETY: eventfd only creates a descriptor.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and nothing else holds it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to the count of an [`event`] (it becomes readable); best
/// effort (a count at its maximum is readable already).
pub(crate) fn signal(event: BorrowedFd<'_>) {
    let _ = write_nonblocking(event, &[IoSlice::new(&1u64.to_ne_bytes())]);
}

/// Writes the concatenation of `bufs` to a socket without waiting
/// (`MSG_DONTWAIT`) and without SIGPIPE (`MSG_NOSIGNAL`: a closed peer is an
/// `EPIPE` error); `Ok(0)` when nothing fits.
pub(crate) fn send_nonblocking(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    nonblocking_io(|| {
        if let [buf] = bufs {
            // SAFETY: `buf` is valid for reads of its length for the call.
            return unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) };
        }
        // SAFETY: a zeroed msghdr is valid (no address, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // `IoSlice` is ABI-compatible with `iovec` on Unix; sendmsg only
        // reads through the pointer.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len().min(libc::c_int::MAX as usize) as _;
        // SAFETY: `msg` points at `bufs`, valid for the call.
        unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) }
    })
}

/// Writes the concatenation of `bufs` to a non-blocking descriptor (a
/// pipe); `Ok(0)` when nothing fits. The caller guards against SIGPIPE.
pub(crate) fn write_nonblocking(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    nonblocking_io(|| {
        if let [buf] = bufs {
            // SAFETY: `buf` is valid for reads of its length for the call.
            return unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        }
        let count = bufs.len().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix; writev
        // only reads the buffers, valid for the call.
        unsafe { libc::writev(fd.as_raw_fd(), bufs.as_ptr().cast(), count) }
    })
}

/// Reads into `buf`, waiting if the descriptor blocks; retries `EINTR`.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of its length for the call.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reads and drops whatever a non-blocking descriptor holds.
pub(crate) fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 64];
    while matches!(read(fd, &mut buf), Ok(n) if n == buf.len()) {}
}

/// Shuts a socket down in both directions (best effort): the peer sees the
/// end of the stream, and a read blocked on it returns.
pub(crate) fn shutdown(fd: BorrowedFd<'_>) {
    // SAFETY: shutdown on a borrowed descriptor; an error (not a socket,
    // not connected) leaves it as it was.
    unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
}

/// `poll(2)` on `fds` (entries with a negative descriptor are ignored) for
/// up to `timeout` (`None`: as long as it takes). Returns how many entries
/// have events; an interrupted poll returns 0, like a timeout.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    // SAFETY: `fds` is a valid slice of pollfds for the call.
    match unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) } {
        n if n >= 0 => Ok(n as usize),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            }
        }
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
