//! The controller's side of the executor services (LLVM 22 bootstrap names
//! and SPS shapes): encoding a service step's call and decoding its result.
//! Shared by the in-process simulation and the differential mode, so both
//! speak exactly the same bytes.

use orc_executor::services::names;
use orc_executor::services::types::{
    AllocAction, AllocActionPair, AllocGroup, ExecutorSymbolDef, FinalizeRequest, SegmentRequest,
};
use orc_rt::{Error, ExecutorAddr, ExecutorAddrRange, WrapperFunctionBuffer, sps};

use crate::scenario::{ActionDecl, SvcOp};

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

pub use crate::transcript::hex;

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

/// Where the allocation-action functions an `initialize` step attaches
/// live in the executor: the simulation defines them in its simulated
/// process (their arguments name the action; see
/// `sim::executor::define_alloc_actions`). A real executor process has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionFunctions {
    /// Succeeds. Argument: SPS string, the action's name.
    pub succeed: ExecutorAddr,
    /// Fails. Arguments: SPS (string, string), its name and message.
    pub fail: ExecutorAddr,
    /// A dealloc action that succeeds. Argument: SPS string, its name.
    pub dealloc: ExecutorAddr,
}

impl ActionFunctions {
    /// The pairs for `initialize` step `handle`'s actions, named
    /// `HANDLE #N` (from 1).
    fn pairs(&self, handle: &str, actions: &[ActionDecl]) -> Vec<AllocActionPair> {
        let call = |f, args: Vec<u8>| AllocAction::new(f, WrapperFunctionBuffer::from(args));
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let name = format!("{handle} #{}", i + 1);
                match a {
                    ActionDecl::Ok => AllocActionPair {
                        finalize: call(self.succeed, sps::to_vec(&name)),
                        dealloc: call(self.dealloc, sps::to_vec(&name)),
                    },
                    ActionDecl::Fail(msg) => AllocActionPair {
                        finalize: call(self.fail, sps::to_vec(&(&name, msg))),
                        dealloc: AllocAction::none(),
                    },
                }
            })
            .collect()
    }
}

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

/// Encodes service step `op` of call `handle`. `symbol` looks up the setup
/// message's bootstrap symbols (service instances); `named` maps the handle
/// of an earlier step to the address its result named (a region, a library,
/// an initialized segment); `actions`, the functions allocation actions
/// call, if the executor has them. `Err` = the step fails at once at the
/// controller.
pub fn encode(
    handle: &str,
    op: &SvcOp,
    symbol: impl Fn(&str) -> Option<u64>,
    named: impl Fn(&str) -> Option<u64>,
    reserve_override: Option<u64>,
    actions: Option<&ActionFunctions>,
) -> Result<Encoded, String> {
    let instance = |n: &str| ExecutorAddr::new(symbol(n).unwrap_or(0));
    let mm = instance(names::MEMORY_MANAGER_INSTANCE);
    let base = |r: &str| {
        let kind = op.needs().unwrap_or("address");
        named(r).ok_or_else(|| format!("{kind} {r} is not available (its step failed)"))
    };
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
        SvcOp::Release(rs) => {
            let bases = rs
                .iter()
                .map(|r| base(r).map(ExecutorAddr::new))
                .collect::<Result<Vec<_>, _>>()?;
            Encoded {
                symbol: names::MEMORY_MANAGER_RELEASE,
                args: sps::to_vec(&(mm, bases)),
                text: format!("release {handle}: region {}", rs.join(", ")),
            }
        }
        SvcOp::Initialize(r, segments, decls) => {
            let contents: Vec<Vec<u8>> = segments
                .iter()
                .map(|s| s.content.encode().unwrap_or_default())
                .collect();
            let base = base(r)?;
            let mut reqs = Vec::new();
            let mut parts = Vec::new();
            for (seg, content) in segments.iter().zip(&contents) {
                let bits = seg.prot | if seg.finalize { 8 } else { 0 };
                reqs.push(SegmentRequest {
                    group: AllocGroup::from_bits(bits).ok_or_else(|| {
                        format!("protection bits {bits:#x} are not an alloc group")
                    })?,
                    addr: ExecutorAddr::new(base + seg.offset),
                    size: seg.size,
                    content,
                });
                parts.push(format!(
                    "{:#x} bytes {}{} at {r}+{:#x} holding {}",
                    seg.size,
                    prot_text(seg.prot),
                    if seg.finalize { " (finalize)" } else { "" },
                    seg.offset,
                    seg.content
                ));
            }
            let pairs = match (actions, decls.is_empty()) {
                (_, true) => Vec::new(),
                (Some(functions), false) => functions.pairs(handle, decls),
                (None, false) => {
                    return Err(
                        "allocation actions need the simulated executor's action functions \
                         (an executor process has none)"
                            .into(),
                    );
                }
            };
            for d in decls {
                parts.push(match d {
                    ActionDecl::Ok => "action ok".to_owned(),
                    ActionDecl::Fail(m) => format!("action fail {m:?}"),
                });
            }
            let req = FinalizeRequest {
                segments: reqs,
                actions: pairs,
            };
            Encoded {
                symbol: names::MEMORY_MANAGER_INITIALIZE,
                args: sps::to_vec(&(mm, req)),
                text: format!("initialize {handle}: {}", parts.join("; ")),
            }
        }
        SvcOp::Deinitialize(is) => {
            let keys = is
                .iter()
                .map(|i| base(i).map(ExecutorAddr::new))
                .collect::<Result<Vec<_>, _>>()?;
            Encoded {
                symbol: names::MEMORY_MANAGER_DEINITIALIZE,
                args: sps::to_vec(&(mm, keys)),
                text: format!("deinitialize {handle}: segment {}", is.join(", ")),
            }
        }
        SvcOp::Open(path) => Encoded {
            symbol: names::DYLIB_MANAGER_OPEN,
            args: sps::to_vec(&(
                instance(names::DYLIB_MANAGER_INSTANCE),
                path.as_bytes(),
                0u64,
            )),
            text: format!("open {handle}: {path:?}"),
        },
        SvcOp::Resolve(lib, syms) => {
            let lookups: Vec<(&[u8], bool)> =
                syms.iter().map(|(n, req)| (n.as_bytes(), *req)).collect();
            let list: Vec<String> = syms
                .iter()
                .map(|(n, req)| {
                    if *req {
                        n.clone()
                    } else {
                        format!("{n} (weak)")
                    }
                })
                .collect();
            Encoded {
                symbol: names::DYLIB_MANAGER_RESOLVE,
                args: sps::to_vec(&(ExecutorAddr::new(base(lib)?), lookups)),
                text: format!("resolve {handle} in {lib}: {}", list.join(", ")),
            }
        }
    })
}

/// `r-x` for protection bits 0b101.
fn prot_text(p: u8) -> String {
    let f = |bit: u8, c: char| if p & bit != 0 { c } else { '-' };
    [f(1, 'r'), f(2, 'w'), f(4, 'x')].iter().collect()
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
        SvcOp::Release(_) | SvcOp::Deinitialize(_) => {
            match sps::from_bytes::<Result<(), Error>>(&bytes) {
                Ok(Ok(())) => (Res::Bytes(Vec::new()), "ok".to_owned(), None),
                Ok(Err(e)) => failed(e),
                Err(_) => bad("release/deinitialize"),
            }
        }
        SvcOp::Initialize(..) | SvcOp::Open(_) => {
            match sps::from_bytes::<Result<ExecutorAddr, Error>>(&bytes) {
                Ok(Ok(a)) => {
                    let what = if matches!(op, SvcOp::Open(_)) {
                        "library"
                    } else {
                        "segment"
                    };
                    (
                        Res::Bytes(Vec::new()),
                        format!("ok: {what} {handle}"),
                        Some(a.value()),
                    )
                }
                Ok(Err(e)) => failed(e),
                Err(_) => bad("initialize/open"),
            }
        }
        SvcOp::Resolve(_, syms) => {
            match sps::from_bytes::<Result<Vec<Option<ExecutorSymbolDef>>, Error>>(&bytes) {
                Ok(Ok(defs)) if defs.len() == syms.len() => {
                    let parts: Vec<String> = syms
                        .iter()
                        .zip(&defs)
                        .map(|((n, _), d)| match d {
                            None => format!("{n} missing"),
                            Some(d) if d.addr.is_null() => format!("{n} absent (0)"),
                            Some(d) => format!("{n} found (flags {:#x})", d.flags),
                        })
                        .collect();
                    (
                        Res::Bytes(Vec::new()),
                        format!("ok: {}", parts.join(", ")),
                        None,
                    )
                }
                Ok(Ok(_)) => bad("resolve (wrong count)"),
                Ok(Err(e)) => failed(e),
                Err(_) => bad("resolve"),
            }
        }
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
        let sym = |n: &str| (n == names::MEMORY_MANAGER_INSTANCE).then_some(0x10);
        let e = encode("r", &SvcOp::Reserve(4096), sym, |_| None, None, None).unwrap();
        assert_eq!(e.symbol, names::MEMORY_MANAGER_RESERVE);
        assert_eq!(e.args, sps::to_vec(&(ExecutorAddr::new(0x10), 4096u64)));
        let op = SvcOp::Write("r".into(), 8, Value::U32(7));
        assert!(
            encode("w", &op, sym, |_| None, None, None)
                .unwrap_err()
                .contains("region r is not available")
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
        let (r, ..) = decode("x", &SvcOp::Release(vec!["r".into()]), Res::Bytes(vec![]));
        assert!(matches!(r, Res::Error(m) if m.starts_with("undecodable release")));
    }
}
