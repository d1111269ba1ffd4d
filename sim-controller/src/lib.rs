//! `orc-sim`: a simulated ORC controller with a deterministic scheduler and
//! fault injection (skeleton; grows with the simulated-controller issue).
