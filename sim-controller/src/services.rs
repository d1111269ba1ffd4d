//! The controller's side of the executor services (LLVM 22 bootstrap names
//! and SPS shapes): encoding a service step's call and decoding its result.
//! Shared by the in-process simulation and the wire mode, so both speak
//! exactly the same bytes.

use orc_rt::services::names;
use orc_rt::{Error, ExecutorAddr, ExecutorAddrRange, sps};

use crate::scenario::SvcOp;

/// A result as the controller receives it: bytes, or an out-of-band error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Res {
    /// The result bytes.
    Bytes(Vec<u8>),
    /// An out-of-band error (or a decoded SPS error) message.
    Error(String),
}

impl Res {
    /// A result buffer as the controller sees it.
    pub fn from_buffer(b: &orc_rt::WrapperFunctionBuffer) -> Res {
        match b.error_message() {
            Some(m) => Res::Error(m.to_string_lossy().into_owned()),
            None => Res::Bytes(b.bytes().to_vec()),
        }
    }

    /// `ok <hex>`, `ok (empty)` or `error "..."`.
    pub fn describe(&self) -> String {
        match self {
            Res::Bytes(b) if b.is_empty() => "ok (empty)".to_owned(),
            Res::Bytes(b) => format!("ok {}", hex(b)),
            Res::Error(m) => format!("error {m:?}"),
        }
    }
}

/// Bytes as hex, shortened past 32 bytes.
pub fn hex(b: &[u8]) -> String {
    let mut s: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    if b.len() > 32 {
        s.push_str(&format!("...({} bytes)", b.len()));
    }
    if s.is_empty() {
        "(empty)".to_owned()
    } else {
        s
    }
}

/// Hides real user-space addresses (hex literals of 11 or 12 digits) in
/// text that came from an executor, so transcripts stay the same.
pub fn mask_addrs(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0' && b.get(i + 1) == Some(&b'x') {
            let digits = b[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if (11..=12).contains(&digits) {
                out.push_str("0x<addr>");
                i += 2 + digits;
                continue;
            }
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The size a `reserve-fails` fault asks for: more than any process can map.
pub const IMPOSSIBLE_SIZE: u64 = 1 << 62;

/// A service call, ready to send.
#[derive(Debug)]
pub struct Encoded {
    /// The bootstrap symbol to call.
    pub symbol: &'static str,
    /// The argument bytes.
    pub args: Vec<u8>,
    /// How the transcript shows the call.
    pub text: String,
}

/// Encodes service step `op` of call `handle`. `memory_manager` is the
/// instance address from the setup message; `region` maps a reserve's
/// handle to its base. `Err` = the step fails at once at the controller.
pub fn encode(
    handle: &str,
    op: &SvcOp,
    memory_manager: u64,
    region: impl Fn(&str) -> Option<u64>,
    reserve_override: Option<u64>,
) -> Result<Encoded, String> {
    let mm = ExecutorAddr::new(memory_manager);
    let base = |r: &str| region(r).ok_or_else(|| format!("region {r} was not reserved"));
    Ok(match op {
        SvcOp::Reserve(size) => {
            let size = reserve_override.unwrap_or(*size);
            Encoded {
                symbol: names::MEMORY_MANAGER_RESERVE,
                args: sps::to_vec(&(mm, size)),
                text: format!("reserve {handle}: {size:#x} bytes"),
            }
        }
        SvcOp::Write(r, off, v) => {
            let at = ExecutorAddr::new(base(r)? + off);
            let bytes = v.encode().unwrap_or_default();
            let writes: Vec<(ExecutorAddr, &[u8])> = vec![(at, &bytes)];
            Encoded {
                symbol: names::WRITE_BUFFERS,
                args: sps::to_vec(&writes),
                text: format!("write {handle}: {v} at {r}+{off:#x}"),
            }
        }
        SvcOp::Read(r, off, len) => {
            let at = base(r)? + off;
            let ranges = vec![ExecutorAddrRange::new(
                ExecutorAddr::new(at),
                ExecutorAddr::new(at + len),
            )];
            Encoded {
                symbol: names::READ_BUFFERS,
                args: sps::to_vec(&ranges),
                text: format!("read {handle}: {len} bytes at {r}+{off:#x}"),
            }
        }
        SvcOp::Release(r) => {
            let bases = vec![ExecutorAddr::new(base(r)?)];
            Encoded {
                symbol: names::MEMORY_MANAGER_RELEASE,
                args: sps::to_vec(&(mm, bases)),
                text: format!("release {handle}: region {r}"),
            }
        }
    })
}

/// Decodes a service result (SPS `Expected`/`Error` failures become
/// errors), describes it without real addresses, and returns the base of a
/// successful reservation.
pub fn decode(handle: &str, op: &SvcOp, res: Res) -> (Res, String, Option<u64>) {
    let bytes = match res {
        Res::Error(m) => {
            let m = mask_addrs(&m);
            return (Res::Error(m.clone()), format!("error {m:?}"), None);
        }
        Res::Bytes(b) => b,
    };
    let failed = |e: Error| {
        let m = mask_addrs(e.message());
        (Res::Error(m.clone()), format!("error {m:?}"), None)
    };
    let bad = |what: &str| {
        let m = format!("undecodable {what} result ({} bytes)", bytes.len());
        (Res::Error(m.clone()), m, None)
    };
    match op {
        SvcOp::Reserve(_) => match sps::from_bytes::<Result<ExecutorAddr, Error>>(&bytes) {
            Ok(Ok(a)) => (
                Res::Bytes(Vec::new()),
                format!("ok: region {handle} reserved"),
                Some(a.value()),
            ),
            Ok(Err(e)) => failed(e),
            Err(_) => bad("reserve"),
        },
        SvcOp::Write(..) if bytes.is_empty() => (Res::Bytes(bytes), "ok".to_owned(), None),
        SvcOp::Write(..) => bad("write"),
        SvcOp::Read(..) => match sps::from_bytes::<Vec<Vec<u8>>>(&bytes) {
            Ok(bufs) => {
                let data = bufs.into_iter().next().unwrap_or_default();
                let text = format!("ok {}", hex(&data));
                (Res::Bytes(data), text, None)
            }
            Err(_) => bad("read"),
        },
        SvcOp::Release(_) => match sps::from_bytes::<Result<(), Error>>(&bytes) {
            Ok(Ok(())) => (Res::Bytes(Vec::new()), "ok".to_owned(), None),
            Ok(Err(e)) => failed(e),
            Err(_) => bad("release"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Value;

    #[test]
    fn masks_user_space_addresses_only() {
        assert_eq!(mask_addrs("at 0x7f12345678ab: bad"), "at 0x<addr>: bad");
        assert_eq!(
            mask_addrs("size 0x4000000000000000"),
            "size 0x4000000000000000"
        );
        assert_eq!(mask_addrs("0x1000 ok, é"), "0x1000 ok, é");
    }

    #[test]
    fn encodes_llvm_shapes_and_decodes_results() {
        let e = encode("r", &SvcOp::Reserve(4096), 0x10, |_| None, None).unwrap();
        assert_eq!(e.symbol, names::MEMORY_MANAGER_RESERVE);
        assert_eq!(e.args, sps::to_vec(&(ExecutorAddr::new(0x10), 4096u64)));
        let op = SvcOp::Write("r".into(), 8, Value::U32(7));
        assert!(
            encode("w", &op, 0x10, |_| None, None)
                .unwrap_err()
                .contains("not reserved")
        );
        let ok: Result<ExecutorAddr, Error> = Ok(ExecutorAddr::new(0x7000_0000_0000));
        let (r, text, base) = decode("r", &SvcOp::Reserve(4096), Res::Bytes(sps::to_vec(&ok)));
        assert_eq!(
            (r, text.as_str(), base),
            (
                Res::Bytes(vec![]),
                "ok: region r reserved",
                Some(0x7000_0000_0000)
            )
        );
        let (r, ..) = decode("x", &SvcOp::Release("r".into()), Res::Bytes(vec![]));
        assert!(matches!(r, Res::Error(m) if m.starts_with("undecodable release")));
    }
}
