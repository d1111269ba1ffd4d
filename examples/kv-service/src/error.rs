//! What a caller of the service gets instead of a value: one typed error
//! per reason, turned into an `orc_rt::Error` (an out-of-band error on the
//! wire) at the binding.

use std::fmt;

use orc_rt::error::{Error, ErrorKind};

/// The longest key the service accepts, in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// The largest value the service accepts, in bytes.
pub const MAX_VALUE_LEN: usize = 1 << 20;

/// Why the service refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvError {
    /// The key is longer than [`MAX_KEY_LEN`].
    KeyTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The value is larger than [`MAX_VALUE_LEN`].
    ValueTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The controller is gone: no new waits (nobody could be told).
    Detached,
    /// The service shut down: its values are gone, its waiters failed.
    ShutDown,
}

impl KvError {
    /// The `orc_rt` error kind the wire and the session see.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KvError::KeyTooLong { .. } | KvError::ValueTooLarge { .. } => {
                ErrorKind::InvalidArgument
            }
            KvError::Detached => ErrorKind::Detached,
            KvError::ShutDown => ErrorKind::ShuttingDown,
        }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::KeyTooLong { len } => {
                write!(f, "kv: key of {len} bytes (at most {MAX_KEY_LEN})")
            }
            KvError::ValueTooLarge { len } => {
                write!(f, "kv: value of {len} bytes (at most {MAX_VALUE_LEN})")
            }
            KvError::Detached => f.write_str("kv: detached, no new waits"),
            KvError::ShutDown => f.write_str("kv: shut down"),
        }
    }
}

impl std::error::Error for KvError {}

impl From<KvError> for Error {
    fn from(e: KvError) -> Error {
        Error::new(e.kind(), e.to_string())
    }
}

/// Checks a key against [`MAX_KEY_LEN`].
pub fn check_key(key: &str) -> Result<(), KvError> {
    if key.len() > MAX_KEY_LEN {
        return Err(KvError::KeyTooLong { len: key.len() });
    }
    Ok(())
}

/// Checks a value against [`MAX_VALUE_LEN`].
pub fn check_value(value: &[u8]) -> Result<(), KvError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(KvError::ValueTooLarge { len: value.len() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_kind_and_message() {
        let cases = [
            (
                KvError::KeyTooLong { len: 300 },
                ErrorKind::InvalidArgument,
                "kv: key of 300 bytes (at most 256)",
            ),
            (
                KvError::ValueTooLarge { len: 2 << 20 },
                ErrorKind::InvalidArgument,
                "kv: value of 2097152 bytes (at most 1048576)",
            ),
            (
                KvError::Detached,
                ErrorKind::Detached,
                "kv: detached, no new waits",
            ),
            (KvError::ShutDown, ErrorKind::ShuttingDown, "kv: shut down"),
        ];
        for (e, kind, message) in cases {
            let err = Error::from(e.clone());
            assert_eq!((err.kind(), err.message()), (kind, message), "{e:?}");
        }
    }

    #[test]
    fn limits_are_inclusive() {
        assert_eq!(check_key(&"k".repeat(MAX_KEY_LEN)), Ok(()));
        assert_eq!(
            check_key(&"k".repeat(MAX_KEY_LEN + 1)),
            Err(KvError::KeyTooLong {
                len: MAX_KEY_LEN + 1
            })
        );
        assert_eq!(check_value(&vec![0; MAX_VALUE_LEN]), Ok(()));
        assert!(check_value(&vec![0; MAX_VALUE_LEN + 1]).is_err());
    }
}
