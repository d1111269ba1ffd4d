//! Where the runtime's `tracing` events go.
//!
//! `ORC_RT_LOG=<filter>` installs tracing-subscriber's formatter with that
//! filter. Without it only errors are printed, through [`ErrorLines`]:
//! a few lines instead of tracing-subscriber's registry, whose set-up
//! (sharded slabs, a `log` bridge, filter parsing) cost about a tenth of an
//! executor session's start-up.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber, level_filters::LevelFilter};

/// The variable that selects verbose logging.
pub(crate) const LOG_VARIABLE: &str = "ORC_RT_LOG";

/// Installs the global subscriber for this process.
pub(crate) fn init() {
    if std::env::var_os(LOG_VARIABLE).is_some() {
        let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_VARIABLE)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_thread_names(true)
            .init();
    } else {
        // Fails only if a subscriber is already set, which then wins.
        let _ = tracing::subscriber::set_global_default(ErrorLines(|line: &str| {
            eprintln!("{line}");
        }));
    }
}

/// Hands each error event to its function as one line (stderr, in the
/// executor) and ignores everything else (spans included: the runtime uses
/// none on its error paths).
struct ErrorLines<F>(F);

impl<F: Fn(&str) + Send + Sync + 'static> Subscriber for ErrorLines<F> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() == Level::ERROR
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::ERROR)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = EventLine::default();
        event.record(&mut line);
        let thread = std::thread::current();
        (self.0)(&format!(
            "ERROR {} {}: {}{}",
            thread.name().unwrap_or("main"),
            event.metadata().target(),
            line.message,
            line.fields
        ));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's message, then its other fields as ` name=value`.
#[derive(Default)]
struct EventLine {
    message: String,
    fields: String,
}

impl Visit for EventLine {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The lines an `ErrorLines` was handed.
    type Lines = Arc<Mutex<Vec<String>>>;

    /// An `ErrorLines` that keeps its lines.
    fn capturing() -> (ErrorLines<impl Fn(&str) + Send + Sync>, Lines) {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = ErrorLines(move |line: &str| sink.lock().unwrap().push(line.to_owned()));
        (subscriber, lines)
    }

    #[test]
    fn only_errors_are_enabled() {
        let (subscriber, lines) = capturing();
        tracing::subscriber::with_default(subscriber, || {
            assert!(tracing::enabled!(Level::ERROR));
            assert!(!tracing::enabled!(Level::WARN));
            assert!(!tracing::enabled!(Level::DEBUG));
            tracing::warn!("not printed");
        });
        assert!(lines.lock().unwrap().is_empty());
    }

    #[test]
    fn an_event_becomes_one_line_its_message_then_its_fields() {
        let (subscriber, lines) = capturing();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(kind = %"Io", seqno = 7, "lost {}", "a result");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("ERROR "), "{lines:?}");
        assert!(
            lines[0].ends_with(" orc_executor::log::tests: lost a result kind=Io seqno=7"),
            "{lines:?}"
        );
    }
}
