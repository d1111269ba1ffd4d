//! Allocation actions (upstream `AllocationActions.h`, spec 11): the
//! finalize and dealloc calls attached to an initialize request.

use std::fmt;
use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::sps;
use orc_rt::wrapper::{BufferView, WrapperFunctionBuffer};

use super::types::{AllocAction, AllocActionPair};
use crate::os::Os;

/// How an action's function is called: with the legacy wrapper ABI by
/// default (through an [`Os`]: [`through`](Self::through)), or through the
/// session, which knows which addresses are its own asynchronous wrapper
/// functions.
#[derive(Clone)]
pub struct ActionCaller(Arc<CallFn>);

type CallFn = dyn Fn(ExecutorAddr, &[u8]) -> WrapperFunctionBuffer + Send + Sync;

impl ActionCaller {
    /// Calls every action function as a legacy wrapper function in this
    /// process (the same as `through(RealOs)`): machine code at the
    /// action's address, so never for services on a simulated backend,
    /// whose addresses are fake (use [`through`](Self::through)).
    pub fn legacy() -> Self {
        ActionCaller(Arc::new(crate::call::call_legacy_wrapper))
    }

    /// Calls every action function as a legacy wrapper function of `os`
    /// ([`Os::call_wrapper`]): for a [`SimulatedOs`](crate::os::SimulatedOs),
    /// the functions registered at the actions' addresses.
    pub fn through<O: Os>(os: O) -> Self {
        ActionCaller(Arc::new(move |f, args| os.call_wrapper(f, args)))
    }

    /// Calls action functions through `f`.
    pub fn new(
        f: impl Fn(ExecutorAddr, &[u8]) -> WrapperFunctionBuffer + Send + Sync + 'static,
    ) -> Self {
        ActionCaller(Arc::new(f))
    }

    /// Runs one action. Both generations of action functions are accepted:
    /// LLVM's return an SPS `Error` (`00` success, `01` + message failure);
    /// upstream orc-rt's return an empty buffer on success and an
    /// out-of-band error on failure. A failure's message is passed through
    /// unchanged, as LLVM 22's executor and orc-rt do, so the controller
    /// sees the action's own words.
    pub fn run(&self, call: &AllocAction) -> Result<(), Error> {
        if call.is_none() {
            return Ok(());
        }
        let result = (self.0)(call.function, call.args.bytes());
        match result.view() {
            BufferView::Error(msg) => Err(Error::new(
                ErrorKind::Service,
                msg.to_string_lossy().into_owned(),
            )),
            BufferView::Empty => Ok(()),
            BufferView::Bytes(bytes) => match sps::from_prefix::<Result<(), Error>>(bytes) {
                Ok((Ok(()), _)) => Ok(()),
                Ok((Err(e), _)) => Err(Error::new(ErrorKind::Service, e.message())),
                // LLVM's words for a result that does not decode.
                Err(e) => {
                    tracing::debug!(
                        target: "orc_executor::services",
                        "allocation action at {:#x}: undecodable result: {e}",
                        call.function.value()
                    );
                    Err(Error::new(
                        ErrorKind::Service,
                        "Could not deserialize result from serialized wrapper function call",
                    ))
                }
            },
        }
    }

    /// Runs the finalize actions in order (spec 11). On a failure, runs the
    /// dealloc actions collected so far in reverse and returns the finalize
    /// error joined with any dealloc errors; the failing pair's dealloc and
    /// later pairs do not run. On success returns the dealloc actions to keep
    /// (the non-empty ones), in order.
    pub fn run_finalize(&self, pairs: &[AllocActionPair]) -> Result<Vec<AllocAction>, Error> {
        let mut deallocs = Vec::new();
        for pair in pairs {
            if let Err(err) = self.run(&pair.finalize) {
                return Err(join_errors(
                    std::iter::once(err).chain(self.run_dealloc(deallocs).err()),
                )
                .expect("at least one error"));
            }
            if !pair.dealloc.is_none() {
                deallocs.push(pair.dealloc.clone());
            }
        }
        Ok(deallocs)
    }

    /// Runs dealloc actions in reverse order; every one runs, failures are
    /// joined.
    pub fn run_dealloc(&self, deallocs: Vec<AllocAction>) -> Result<(), Error> {
        match join_errors(deallocs.iter().rev().filter_map(|c| self.run(c).err())) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for ActionCaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActionCaller")
    }
}

/// Joins errors as LLVM's `joinErrors` does: one message per line. A single
/// error keeps its kind.
pub(crate) fn join_errors(errors: impl IntoIterator<Item = Error>) -> Option<Error> {
    let mut errors = errors.into_iter();
    let first = errors.next()?;
    let rest: Vec<Error> = errors.collect();
    if rest.is_empty() {
        return Some(first);
    }
    let mut message = first.message().to_owned();
    for e in &rest {
        message.push('\n');
        message.push_str(e.message());
    }
    Some(Error::new(first.kind(), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A caller whose "functions" are numbers: it logs each call; function 9
    /// fails with an SPS error, 8 returns garbage, 7 an out-of-band error.
    fn scripted(log: Arc<Mutex<Vec<u64>>>) -> ActionCaller {
        ActionCaller::new(move |f, _args| {
            log.lock().unwrap().push(f.value());
            match f.value() {
                9 => WrapperFunctionBuffer::from(sps::to_vec(&Err::<(), _>(Error::msg(
                    "nine failed",
                )))),
                8 => WrapperFunctionBuffer::from(vec![2u8]),
                7 => WrapperFunctionBuffer::out_of_band_error("seven oob"),
                _ => WrapperFunctionBuffer::from(sps::to_vec(&Ok::<(), Error>(()))),
            }
        })
    }

    fn call(f: u64) -> AllocAction {
        AllocAction::new(ExecutorAddr::new(f), WrapperFunctionBuffer::empty())
    }

    fn pair(f: u64, d: u64) -> AllocActionPair {
        AllocActionPair {
            finalize: call(f),
            dealloc: call(d),
        }
    }

    #[test]
    fn finalize_runs_in_order_and_keeps_non_empty_deallocs() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let c = scripted(log.clone());
        let kept = c
            .run_finalize(&[pair(1, 11), pair(0, 0), pair(2, 0)])
            .unwrap();
        assert_eq!(kept, vec![call(11)]);
        assert_eq!(*log.lock().unwrap(), [1, 2]);
    }

    #[test]
    fn a_failing_finalize_unwinds_the_deallocs_so_far_in_reverse() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let c = scripted(log.clone());
        let err = c
            .run_finalize(&[pair(1, 11), pair(2, 12), pair(9, 19), pair(3, 13)])
            .unwrap_err();
        assert_eq!(err.message(), "nine failed");
        assert_eq!(*log.lock().unwrap(), [1, 2, 9, 12, 11]);
    }

    #[test]
    fn dealloc_runs_everything_and_joins_failures() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let c = scripted(log.clone());
        let err = c.run_dealloc(vec![call(7), call(1), call(8)]).unwrap_err();
        assert_eq!(*log.lock().unwrap(), [8, 1, 7]);
        let lines: Vec<&str> = err.message().lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "Could not deserialize result from serialized wrapper function call"
        );
        assert_eq!(lines[1], "seven oob", "passed through unchanged");
    }

    #[test]
    fn an_empty_result_is_success_and_an_out_of_band_error_passes_through() {
        // Upstream orc-rt's action ABI: empty on success, OOB on failure.
        let c = ActionCaller::new(|f, _| match f.value() {
            5 => WrapperFunctionBuffer::empty(),
            _ => WrapperFunctionBuffer::out_of_band_error("the action's own words"),
        });
        assert!(c.run(&call(5)).is_ok());
        assert!(c.run(&call(0)).is_ok());
        let err = c.run(&call(6)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Service);
        assert_eq!(err.message(), "the action's own words");
    }
}
