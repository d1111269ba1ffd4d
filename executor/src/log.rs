//! Where the runtime's `tracing` events go.
//!
//! `ORC_RT_LOG=<filter>` installs tracing-subscriber's formatter with that
//! filter. Without it only errors are printed, through [`ErrorsToStderr`]:
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
        let _ = tracing::subscriber::set_global_default(ErrorsToStderr);
    }
}

/// Prints error events to stderr, one line each, and ignores everything
/// else (spans included: the runtime uses none on its error paths).
struct ErrorsToStderr;

impl Subscriber for ErrorsToStderr {
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
        eprintln!(
            "ERROR {} {}: {}{}",
            thread.name().unwrap_or("main"),
            event.metadata().target(),
            line.message,
            line.fields
        );
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

    #[test]
    fn only_errors_are_enabled() {
        let subscriber = ErrorsToStderr;
        tracing::subscriber::with_default(subscriber, || {
            assert!(tracing::enabled!(Level::ERROR));
            assert!(!tracing::enabled!(Level::WARN));
            assert!(!tracing::enabled!(Level::DEBUG));
        });
    }

    #[test]
    fn an_event_becomes_its_message_then_its_fields() {
        struct Capture(std::sync::Mutex<Vec<(String, String)>>);
        impl Subscriber for Capture {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &Event<'_>) {
                let mut line = EventLine::default();
                event.record(&mut line);
                self.0.lock().unwrap().push((line.message, line.fields));
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }
        let capture = std::sync::Arc::new(Capture(Default::default()));
        tracing::subscriber::with_default(capture.clone(), || {
            tracing::error!(kind = %"Io", seqno = 7, "lost {}", "a result");
        });
        let lines = capture.0.lock().unwrap();
        assert_eq!(
            *lines,
            [("lost a result".to_owned(), " kind=Io seqno=7".to_owned())]
        );
    }
}
