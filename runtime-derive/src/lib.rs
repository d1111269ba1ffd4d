//! `#[derive(Sps)]` for orc-rt.
