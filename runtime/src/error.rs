//! The runtime's one error type (upstream `Error.h`): a matchable kind, a
//! message (what crosses the wire) and an optional typed source that callers
//! can downcast, the role RTTI plays upstream.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, coarsely enough to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bytes that do not decode as the expected SPS type.
    Decode,
    /// A value that could not be encoded.
    Encode,
    /// The peer broke the wire protocol.
    Protocol,
    /// The controller access is detached or disconnecting.
    Detached,
    /// The session is shutting down: no new execution scope, no new work.
    ShuttingDown,
    /// A symbol, handler, address or library was not found.
    NotFound,
    /// An argument or request the callee cannot accept.
    InvalidArgument,
    /// A resource manager or executor service failed.
    Service,
    /// An operating-system call failed.
    Io,
    /// Code panicked where a panic must not escape; the panic was contained.
    Panic,
    /// An error received from the other side of the wire: only its message survives.
    Remote,
    /// A plain string error (upstream `StringError`).
    Message,
}

impl ErrorKind {
    /// A stable lower-case name, used in transcripts and logs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Decode => "decode",
            ErrorKind::Encode => "encode",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Detached => "detached",
            ErrorKind::ShuttingDown => "shutting-down",
            ErrorKind::NotFound => "not-found",
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::Service => "service",
            ErrorKind::Io => "io",
            ErrorKind::Panic => "panic",
            ErrorKind::Remote => "remote",
            ErrorKind::Message => "message",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A runtime error. One pointer wide, so `Result<T, Error>` stays cheap.
///
/// `#[must_use]`: an error is handled, returned or reported, never dropped
/// on the floor (upstream enforces this with a checked flag at runtime).
#[must_use = "errors must be handled, returned or reported"]
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// `Result` with the runtime's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
            }),
        }
    }

    /// A plain string error (upstream `make_error<StringError>`).
    pub fn msg(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Message, message)
    }

    /// An error that arrived over the wire; only its message is known.
    pub fn remote(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Remote, message)
    }

    /// The controller access is detached (the message LLVM uses on the wire).
    pub fn detached() -> Self {
        Error::new(ErrorKind::Detached, "disconnected")
    }

    /// Wraps a typed source error; its `Display` becomes the message.
    pub fn with_source<E>(kind: ErrorKind, source: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        Error {
            inner: Box::new(Inner {
                kind,
                message: source.to_string(),
                source: Some(Box::new(source)),
            }),
        }
    }

    /// An error from the operating system, with context (`"mmap: ..."`).
    pub fn io(context: &str, err: std::io::Error) -> Self {
        let message = format!("{context}: {err}");
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Io,
                message,
                source: Some(Box::new(err)),
            }),
        }
    }

    /// The kind, to match on.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message: exactly what crosses the wire for this error.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Prefixes the message with `context` (`"context: message"`).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.inner.message = format!("{context}: {}", self.inner.message);
        self
    }

    /// The typed source, if it is a `T` (the role of upstream's `isA<T>`).
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.inner
            .source
            .as_deref()
            .and_then(|s| s.downcast_ref::<T>())
    }

    /// True if the typed source is a `T`.
    pub fn is<T: StdError + 'static>(&self) -> bool {
        self.downcast_ref::<T>().is_some()
    }

    /// The form the error takes on the wire: its message only. The receiver
    /// gets [`ErrorKind::Remote`] back through [`Error::from_wire`].
    pub fn to_wire(&self) -> &str {
        &self.inner.message
    }

    /// An error decoded from the wire.
    pub fn from_wire(message: impl Into<String>) -> Self {
        Error::remote(message)
    }

    /// A contained panic, with the panic's message if it had one.
    pub fn from_panic(context: &str, payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown panic");
        Error::new(ErrorKind::Panic, format!("{context} panicked: {what}"))
    }
}

impl Clone for Error {
    /// Clones kind and message; a typed source is not clonable and becomes
    /// part of the message only.
    fn clone(&self) -> Self {
        Error::new(self.inner.kind, self.inner.message.clone())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl PartialEq for Error {
    /// Errors compare by kind and message (what an observer can see).
    fn eq(&self, other: &Self) -> bool {
        self.inner.kind == other.inner.kind && self.inner.message == other.inner.message
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::with_source(ErrorKind::Io, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("custom failure {0}")]
    struct Custom(u32);

    #[test]
    fn kinds_messages_and_downcast() {
        let e = Error::with_source(ErrorKind::Service, Custom(7));
        assert_eq!(e.kind(), ErrorKind::Service);
        assert_eq!(e.message(), "custom failure 7");
        assert_eq!(e.downcast_ref::<Custom>().map(|c| c.0), Some(7));
        assert!(!e.is::<std::io::Error>());
        let e = e.context("memory map");
        assert_eq!(e.to_string(), "memory map: custom failure 7");
    }

    #[test]
    fn wire_form_keeps_only_the_message() {
        let e = Error::new(ErrorKind::NotFound, "no such symbol");
        let back = Error::from_wire(e.to_wire());
        assert_eq!(back.kind(), ErrorKind::Remote);
        assert_eq!(back.message(), "no such symbol");
    }

    #[test]
    fn panics_become_errors() {
        let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
        let e = Error::from_panic("shutdown", payload.as_ref());
        assert_eq!(e.kind(), ErrorKind::Panic);
        assert_eq!(e.message(), "shutdown panicked: boom");
    }

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
