//! The same operations on both backends give the same results and the same
//! error texts (addresses aside): what makes a simulated run stand for a
//! real one.

use super::*;

/// Runs one fixed sequence of operations on `os` and describes what
/// happened, with addresses as offsets from the first mapping.
fn transcript<O: Os>(os: &O) -> Vec<String> {
    let page = os.page_size();
    let mut out = Vec::new();
    let mut note = |what: &str, r: Result<String, String>| {
        out.push(match r {
            Ok(v) => format!("{what}: ok {v}"),
            Err(e) => format!("{what}: error {e}"),
        });
    };
    let text = |e: io::Error| error_text(&e);

    let m = os.map(page * 2).unwrap();
    let base = m.range().start;
    // Addresses as offsets from the mapping (longest first, so that no
    // address is replaced inside a longer one).
    let mask = |s: String| {
        [
            (2 * page + 1, "B+2P+1"),
            (2 * page, "B+2P"),
            (page, "B+P"),
            (0, "B"),
        ]
        .iter()
        .fold(s, |s, &(off, name)| {
            s.replace(&format!("{:#x}", (base + off).value()), name)
        })
    };
    note(
        "huge map",
        os.map(1 << 62).map(|_| String::new()).map_err(text),
    );
    note("empty map", os.map(0).map(|_| String::new()).map_err(text));
    note("size", Ok(format!("{:#x}", m.range().size())));
    note(
        "write",
        os.write(&[&m], &[(base, b"hello\0"), (base + page, b"yo")])
            .map(|()| String::new())
            .map_err(text),
    );
    let mut buf = [0u8; 2];
    note(
        "read",
        os.read(&mut [(base + page, &mut buf[..])])
            .map(|()| format!("{buf:?}"))
            .map_err(text),
    );
    note(
        "c string",
        os.read_c_string(base)
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .map_err(text),
    );
    m.protect(base + page, page, MemProt::READ).unwrap();
    note(
        "write read-only",
        os.write(&[&m], &[(base + page, b"no")])
            .map(|()| String::new())
            .map_err(|e| mask(text(e))),
    );
    note(
        "write outside",
        os.write(&[&m], &[(ExecutorAddr::new(0x10), b"x")])
            .map(|()| String::new())
            .map_err(text),
    );
    note(
        "fill outside",
        m.fill(base + page * 2, 1, b"")
            .map(|()| String::new())
            .map_err(|e| mask(text(e))),
    );
    m.fill(base + page, 3, b"abc").unwrap();
    note(
        "write after fill",
        os.write(&[&m], &[(base + page + 3, b"d")])
            .map(|()| String::new())
            .map_err(text),
    );
    let unmapped = ExecutorAddrRange::new(ExecutorAddr::new(0x10), ExecutorAddr::new(0x20));
    note(
        "eh unmapped",
        os.register_eh_frame(unmapped).map(|()| String::new()),
    );
    note(
        "eh unknown",
        os.deregister_eh_frame(unmapped).map(|()| String::new()),
    );
    note(
        "debug unknown",
        os.deregister_debug_object(unmapped).map(|()| String::new()),
    );
    note(
        "open missing",
        os.open_library(b"libnope.so.9").map(|_| String::new()),
    );
    note(
        "call null",
        Ok(os
            .call_wrapper(ExecutorAddr::NULL, b"")
            .error_message()
            .map(|m| m.to_string_lossy().into_owned())
            .unwrap_or_default()),
    );
    note(
        "run null",
        os.run_int_void(ExecutorAddr::NULL)
            .map(|v| v.to_string())
            .map_err(|e| e.message().to_owned()),
    );
    out
}

#[test]
fn both_backends_answer_alike() {
    let real = transcript(&RealOs);
    assert_eq!(
        real[..2],
        [
            "huge map: error Cannot allocate memory",
            "empty map: error Invalid argument",
        ]
    );
    assert!(
        real.contains(
            &"fill outside: error range B+2P..B+2P+1 is outside the mapping B..B+2P".to_owned()
        ),
        "{real:#?}"
    );
    let simulated = transcript(&SimulatedOs::new(1));
    assert_eq!(real, simulated);
    // The simulation's own addresses repeat.
    assert_eq!(simulated, transcript(&SimulatedOs::new(1)));
}
