//! The wire access's coverage probes ([`orc_rt::probe`]): the rare
//! situations of a connection, named so that a test harness (orc-sim, which
//! also shows them in its transcripts) can tell whether its runs reached
//! them.

/// A Hangup from the controller ended the connection.
pub const HANGUP_RECEIVED: &str = "wire: the controller hung up";
/// The controller's stream ended between two messages without a Hangup
/// (LLVM 22's controller always ends this way).
pub const END_OF_STREAM: &str = "wire: the stream ended without a Hangup";
/// A protocol or I/O error ended the connection.
pub const ENDED_BY_ERROR: &str = "wire: an error ended the connection";
/// `disconnect` queued our Hangup.
pub const HANGUP_QUEUED: &str = "wire: disconnect queued our Hangup";
/// The connection ended while controller calls were still running, and
/// the last of them, finishing, tells the session.
pub const TOLD_AFTER_LAST_CALL: &str =
    "wire: the last call still running tells the session of the end";
/// The reader could not write all its output and went on reading (a
/// controller that does not read while it writes).
pub const READER_LEFT_OUTPUT: &str = "wire: the reader left output queued and read on";
/// A result could not be sent: the controller is gone.
pub const RESULT_LOST: &str = "wire: a result was lost, the controller is gone";

/// Every probe of the wire access.
pub const ALL: &[&str] = &[
    HANGUP_RECEIVED,
    END_OF_STREAM,
    ENDED_BY_ERROR,
    HANGUP_QUEUED,
    TOLD_AFTER_LAST_CALL,
    READER_LEFT_OUTPUT,
    RESULT_LOST,
];
