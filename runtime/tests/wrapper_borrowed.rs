//! Typed SPS handlers whose arguments borrow from the argument bytes
//! (spec 2.1): `SpsWrapperFunction::handle_borrowed` and the
//! `WrapperFunction::handle_sps` family, through a registered wrapper of a
//! real session. Modelled on upstream `SPSWrapperFunctionUtilsTest`.

use std::sync::mpsc;
use std::time::Duration;

use orc_rt::controller_access::{BootstrapInfo, ControllerReply, InProcessControllerAccess};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::wrapper::{ARG_DECODE_ERROR, SpsWrapperFunction, WrapperFunction, WrapperReturn};
use orc_rt::{Error, ExecutorAddr, Session, WrapperFunctionBuffer, sps};

type RoundTrip = SpsWrapperFunction<fn(String) -> String>;
type Halve = SpsWrapperFunction<fn(i32) -> Result<i32, Error>>;

fn collect() -> (WrapperReturn, mpsc::Receiver<WrapperFunctionBuffer>) {
    let (tx, rx) = mpsc::channel();
    (WrapperReturn::new(move |b| tx.send(b).unwrap()), rx)
}

// Upstream `SPSWrapperFunctionUtilsTest.RoundTripStringViaSpan`: a
// `fn(String) -> String` handled with a byte view of its argument, called
// with a `&str`. The view points into the argument buffer: nothing copied.
#[test]
fn a_string_round_trips_through_a_borrowed_byte_view() {
    let args = RoundTrip::encode_borrowed_args(&("hello, world!",)).unwrap();
    let arg_range = args.bytes().as_ptr_range();
    let (ret, rx) = collect();
    let mut borrowed = false;
    RoundTrip::handle_borrowed(&args, ret, |(s,): (&[u8],), r| {
        borrowed = arg_range.contains(&s.as_ptr());
        r.send(String::from_utf8(s.to_vec()).unwrap());
    });
    assert!(borrowed, "the handler saw the argument bytes themselves");
    assert_eq!(
        RoundTrip::decode_result(rx.recv().unwrap()).unwrap(),
        "hello, world!"
    );
}

// The asynchronous form: the handler moves its return to another thread
// (the borrowed argument itself cannot go along: the compiler forbids it).
#[test]
fn a_borrowed_handler_may_answer_later() {
    let args = RoundTrip::encode_borrowed_args(&("later",)).unwrap();
    let (ret, rx) = collect();
    RoundTrip::handle_borrowed(&args, ret, |(s,): (&str,), r| {
        let owned = s.to_uppercase();
        std::thread::spawn(move || r.send(owned));
    });
    let result = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(RoundTrip::decode_result(result).unwrap(), "LATER");
}

// Upstream `TransparentConversionExpected{Success,Failure}Case`, with the
// synchronous borrowed form; bad bytes and error arguments answer without
// calling the handler.
#[test]
fn borrowed_handlers_keep_the_error_rules() {
    let halve = |n: i32| {
        let args = Halve::encode_borrowed_args(&(n,)).unwrap();
        let (ret, rx) = collect();
        Halve::handle_borrowed_sync(&args, ret, |(n,): (i32,)| {
            if n % 2 == 0 {
                Ok(n >> 1)
            } else {
                Err(Error::msg("N is not a multiple of 2"))
            }
        });
        Halve::decode_result(rx.recv().unwrap()).unwrap()
    };
    assert_eq!(halve(2).unwrap(), 1);
    assert_eq!(halve(3).unwrap_err().message(), "N is not a multiple of 2");

    let (ret, rx) = collect();
    let short = WrapperFunctionBuffer::copy_from(&[1, 0]);
    RoundTrip::handle_borrowed_sync(&short, ret, |_: (&str,)| unreachable!("bad bytes"));
    let b = rx.recv().unwrap();
    assert_eq!(
        b.error_message().unwrap().to_str().unwrap(),
        ARG_DECODE_ERROR
    );

    let (ret, rx) = collect();
    let oob = WrapperFunctionBuffer::out_of_band_error("upstream failed");
    RoundTrip::handle_borrowed_sync(&oob, ret, |_: (&str,)| unreachable!("an error argument"));
    let b = rx.recv().unwrap();
    assert_eq!(
        b.error_message().unwrap().to_str().unwrap(),
        "upstream failed"
    );
}

// End to end: a borrowed handler registered with a session and called by
// an in-process controller (upstream's `DirectCaller` tests call the
// wrapper the same way a controller would); the caller side borrows too.
#[test]
fn a_registered_borrowed_handler_answers_a_controller() {
    let session = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    let addr = session.register_wrapper(|args, ret| {
        RoundTrip::handle_borrowed_sync(&args, ret, |(s,): (&str,)| format!("<{s}>"));
    });
    let no_calls = |_: ExecutorAddr, _: WrapperFunctionBuffer, _: ControllerReply| {
        unreachable!("the executor makes no calls here")
    };
    let ca =
        InProcessControllerAccess::attach(&session, BootstrapInfo::default_for(&session), no_calls)
            .unwrap();
    let (tx, rx) = mpsc::channel();
    RoundTrip::call_borrowed(
        |bytes, k| {
            ca.call_executor(addr, bytes, k).unwrap();
        },
        &("x",),
        move |r| tx.send(r).unwrap(),
    );
    let answer = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(answer.unwrap(), "<x>");
    session.wait_for_shutdown().unwrap();
}

// The untyped-signature forms borrow as well (`handle_sps`,
// `handle_sps_oob`, `quick_sps`), with upstream's error strings.
#[test]
fn handle_sps_forms_borrow_and_report_bad_arguments() {
    let bytes = sps::to_vec(&(ExecutorAddr::new(0x10), "name"));
    let range = bytes.as_ptr_range();
    let r = WrapperFunction::handle_sps(&bytes, |(a, s): (ExecutorAddr, &str)| {
        assert!(range.contains(&s.as_ptr()), "borrowed");
        a.value() + s.len() as u64
    });
    assert_eq!(r.bytes(), 0x14u64.to_le_bytes());
    let r = WrapperFunction::handle_sps_oob(&bytes, |(_, s): (ExecutorAddr, &str)| {
        Err::<(), _>(Error::msg(format!("no {s}")))
    });
    assert_eq!(r.error_message().unwrap().to_str().unwrap(), "no name");
    let r = WrapperFunction::quick_sps(&bytes[..3], |_: (ExecutorAddr, &str)| Some(()));
    let r = r.expect("undecodable arguments are answered, not declined");
    assert_eq!(
        r.error_message().unwrap().to_str().unwrap(),
        ARG_DECODE_ERROR
    );
    assert!(WrapperFunction::quick_sps(&bytes, |_: (ExecutorAddr, &str)| None::<()>).is_none());
}
