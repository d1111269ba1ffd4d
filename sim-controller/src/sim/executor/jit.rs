//! "JIT'd code": the interpreter of a scenario's `jit` bodies, run as the
//! wrapper function the controller calls (inside the task the session
//! dispatched), on a thread of its own (`spawn`), or as a dispatched task.
//! Every operation is a scheduling point, as on a preemptive thread.

use std::sync::Arc;

use orc_rt::{WrapperFunctionBuffer, WrapperReturn};

use super::super::threads::ParkError;
use super::super::{WakeOn, World};
use super::host::{SimGuard, check_grant};
use super::managers::{add as add_manager, injected_panic};
use crate::scenario::{Op, Value};
use crate::services::{Res, hex};
use crate::transcript::Shape;

/// Where a body runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Inside a task the session dispatched (holds the task's guard).
    Task,
    /// On a thread of its own (host code calling into JIT'd code).
    Thread,
}

/// Counts a running wrapper body (it sits on a task of session `.1` that
/// holds a guard).
struct BodyToken(std::sync::Weak<World>, usize);

impl BodyToken {
    fn new(w: &Arc<World>, s: usize) -> Self {
        w.parts().book.live[s].bodies += 1;
        BodyToken(w.me.clone(), s)
    }
}

impl Drop for BodyToken {
    fn drop(&mut self) {
        if let Some(w) = self.0.upgrade() {
            w.parts().book.live[self.1].bodies -= 1;
        }
    }
}

/// A value as a result buffer (an `error` value is out-of-band).
pub(crate) fn value_buffer(v: &Value) -> WrapperFunctionBuffer {
    match v {
        Value::Error(m) => WrapperFunctionBuffer::out_of_band_error(m),
        v => WrapperFunctionBuffer::copy_from(&v.encode().unwrap_or_default()),
    }
}

/// The controller called JIT'd function `func` with `args` (its handle,
/// then its argument bytes).
pub(crate) fn wrapper_entry(w: &Arc<World>, func: usize, args: &[u8], ret: WrapperReturn) {
    let (handle, rest) = match orc_rt::sps::from_prefix::<&str>(args) {
        Ok((h, rest)) => (h.to_owned(), rest.to_vec()),
        Err(_) => ("?".to_owned(), args.to_vec()),
    };
    let actor = format!("jit {handle}");
    let _token = BodyToken::new(w, 0);
    {
        let mut p = w.parts();
        p.book.started(&handle);
        let f = &w.sc.jits[func].name;
        let arg = if rest.is_empty() {
            String::new()
        } else {
            hex(&rest)
        };
        p.log
            .event(&actor, format!("start {f}({arg})"), Shape::Begin);
    }
    Body {
        w: w.clone(),
        actor,
        func,
        ret: Some(ret),
        place: Place::Task,
        guards: Vec::new(),
    }
    .run();
}

/// A thread started by `spawn`: host code, no task, no guard of its own.
pub(crate) fn thread_main(w: &Arc<World>, actor: String, func: usize) {
    w.parts().log.event(
        &actor,
        format!("thread starts running {}", w.sc.jits[func].name),
        Shape::Begin,
    );
    let body = Body {
        w: w.clone(),
        actor: actor.clone(),
        func,
        ret: None,
        place: Place::Thread,
        guards: Vec::new(),
    };
    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body.run())) {
        let m = super::super::threads::panic_message(p.as_ref());
        w.parts().log.event(
            &actor,
            format!("thread died: {}", m.trim_start_matches("[sim] ")),
            Shape::End,
        );
    }
}

/// An interpreter of one body, on one simulated thread.
struct Body {
    w: Arc<World>,
    actor: String,
    func: usize,
    ret: Option<WrapperReturn>,
    place: Place,
    guards: Vec<SimGuard>,
}

enum Flow {
    Next,
    Stop,
}

impl Body {
    fn log(&self, text: impl Into<String>) {
        self.w.note(&self.actor, text);
    }

    fn run(mut self) {
        let ops = self.w.sc.jits[self.func].ops.clone();
        for (k, op) in ops.iter().enumerate() {
            if k > 0 {
                match self.w.suspend(&self.actor, WakeOn::Now) {
                    Err(ParkError::Aborted) => {
                        self.log("aborted by the simulation");
                        break;
                    }
                    Ok(()) | Err(ParkError::NotAWorker) => {}
                }
            }
            match self.op(op) {
                Flow::Next => {}
                Flow::Stop => break,
            }
        }
        if let Some(r) = self.ret.take() {
            self.log("return empty (end of body)");
            r.send(WrapperFunctionBuffer::empty());
        }
        while let Some(g) = self.guards.pop() {
            self.log("leave (end of body)");
            drop(g);
        }
        self.w.parts().log.event(&self.actor, "end", Shape::End);
    }

    fn wait(&mut self, wake: WakeOn) -> Flow {
        match self.w.suspend(&self.actor, wake) {
            Ok(()) => Flow::Next,
            Err(ParkError::Aborted) => {
                self.log("aborted by the simulation");
                Flow::Stop
            }
            Err(ParkError::NotAWorker) => {
                self.log("cannot suspend on this thread (not a simulated thread): carries on");
                Flow::Next
            }
        }
    }

    fn op(&mut self, op: &Op) -> Flow {
        let w = self.w.clone();
        match op {
            Op::Enter(named) => {
                let s = w.session_index(named.as_deref());
                let enter = format!("enter{}", crate::scenario::after_space(named));
                match w.session_at(s).try_enter_scope() {
                    Ok(g) => {
                        check_grant(&w, s, &self.actor);
                        self.guards.push(SimGuard::new(&w, s, g, false));
                        self.log(format!("{enter}: ok (holds {})", self.guards.len()));
                    }
                    Err(e) => {
                        w.parts().checks.sessions[s].denied_seen = true;
                        self.log(format!("{enter}: denied ({}: {})", e.kind(), e.message()));
                        if let Some(r) = self.ret.take() {
                            self.log("returns the error: does not run JIT'd code");
                            r.send_error(&e);
                        }
                        return Flow::Stop;
                    }
                }
            }
            Op::Leave => match self.guards.pop() {
                Some(g) => {
                    self.log(format!("leave (holds {})", self.guards.len()));
                    drop(g);
                }
                None => self.log("leave: holds no guard"),
            },
            Op::Clone => match self
                .guards
                .last()
                .and_then(|g| Some((g.s, g.g.as_ref()?.clone())))
            {
                Some((s, g)) if g.is_held() => {
                    check_grant(&w, s, &self.actor);
                    self.guards.push(SimGuard::new(&w, s, g, false));
                    self.log(format!("clone guard: held (holds {})", self.guards.len()));
                }
                Some((s, _)) => {
                    w.parts().checks.sessions[s].denied_seen = true;
                    self.log("clone guard: empty (the scope is closed)");
                }
                None => self.log("clone guard: holds no guard to clone"),
            },
            Op::Work(n) => {
                self.log(format!("work {n} ticks"));
                return self.wait(WakeOn::Ticks(*n));
            }
            Op::Keepalive(n) => {
                self.log(format!("call_with_keepalive(work {n} ticks)"));
                let s = w.session();
                let mut flow = Flow::Next;
                let ran = s.call_with_keepalive(|| {
                    let _token = BodyToken::new(&w, 0);
                    flow = self.wait(WakeOn::Ticks(*n));
                });
                match ran {
                    Some(()) => self.log("call_with_keepalive returned"),
                    None => self.log("call_with_keepalive: refused (shutdown began)"),
                }
                return flow;
            }
            Op::Call(tag, v) | Op::CallAsync(tag, v) => {
                let blocking = matches!(op, Op::Call(..));
                let (flag, call) = {
                    let mut p = w.parts();
                    let call = p
                        .checks
                        .default_session()
                        .lifecycle
                        .controller_call_started();
                    (p.sched.new_flag(), call)
                };
                self.log(format!("call_controller({tag}, {v})"));
                let actor = self.actor.clone();
                let weak = w.me.clone();
                let tag2 = tag.clone();
                w.session().call_controller(
                    super::super::addresses::tag_addr(&w.sc, tag),
                    value_buffer(v),
                    move |res| {
                        let Some(w) = weak.upgrade() else { return };
                        let r = Res::from_buffer(&res);
                        let mut p = w.parts();
                        p.log.note(&actor, format!("{tag2} → {}", r.describe()));
                        p.checks
                            .default_session()
                            .lifecycle
                            .controller_call_completed(call);
                        p.sched.set_flag(flag);
                    },
                );
                if blocking {
                    return self.wait(WakeOn::Flag(
                        flag,
                        format!("the result of its call to {tag}"),
                    ));
                }
            }
            Op::Return(v) => match self.ret.take() {
                Some(r) => {
                    self.log(format!("return {}", v.brief()));
                    r.send(value_buffer(v));
                }
                None => self.log(format!("return {}: no caller to return to", v.brief())),
            },
            Op::ReturnLater(n, v) => match self.ret.take() {
                Some(r) => {
                    self.log(format!("will return {v} in {n} ticks (no guard)"));
                    let v = v.clone();
                    let actor = self.actor.clone();
                    w.after(*n, move |w| {
                        w.note(&actor, format!("late return {v}"));
                        r.send(value_buffer(&v));
                    });
                }
                None => self.log("return-later: no caller to return to"),
            },
            Op::Shutdown(named) => {
                let s = w.session_index(named.as_deref());
                let call = w.method(s, "shutdown");
                self.log(format!("{call}()"));
                w.session_at(s).shutdown();
                self.log(format!("{call}() returned"));
            }
            Op::Detach(named) => {
                let s = w.session_index(named.as_deref());
                let call = w.method(s, "detach");
                self.log(format!("{call}()"));
                w.session_at(s).detach();
                self.log(format!("{call}() returned"));
            }
            Op::WaitShutdown(named) => {
                let s = w.session_index(named.as_deref());
                let call = w.method(s, "wait_for_shutdown");
                if self.place == Place::Task {
                    // Inside a task of another session the wait is granted
                    // and blocks for real: that session's shutdown must
                    // complete on the spot.
                    self.log(format!("{call}() inside a dispatched task"));
                    match w.session_at(s).wait_for_shutdown() {
                        Ok(r) => {
                            self.log(format!("{call} → shut down ({} errors)", r.errors.len()))
                        }
                        Err(e) => self.log(format!("{call} → error {}: {}", e.kind(), e.message())),
                    }
                } else {
                    let (waits, sees) = match w.session_name(s) {
                        None => (
                            "waits for shutdown to complete".to_owned(),
                            "sees the session shut down".to_owned(),
                        ),
                        Some(n) => (
                            format!("waits for session {n}'s shutdown to complete"),
                            format!("sees session {n} shut down"),
                        ),
                    };
                    self.log(waits);
                    let done = format!("{}: shut down", w.scoped(s, "session"));
                    let f = self.wait(WakeOn::Pattern(done));
                    if matches!(f, Flow::Next) {
                        self.log(sees);
                    }
                    return f;
                }
            }
            Op::Wait(p) => {
                w.parts()
                    .log
                    .event(&self.actor, format!("waits for {p:?}"), Shape::Quote);
                return self.wait(WakeOn::Pattern(p.clone()));
            }
            Op::Spawn(t, f) => {
                let func = w.jit_index(f);
                self.log(format!("spawns thread {t} running {f}"));
                let actor = format!("jit {t}");
                w.start_thread(move |w| thread_main(w, actor, func));
            }
            Op::Dispatch(f, named) => {
                let s = w.session_index(named.as_deref());
                let func = w.jit_index(f);
                let n = w.parts().book.new_thread();
                let actor = format!("jit {f}#{n}");
                let session = w.session_name(s).unwrap_or("session");
                self.log(format!("{session}.dispatch({actor})"));
                let weak = w.me.clone();
                let r = w.session_at(s).dispatch(move || {
                    let Some(w) = weak.upgrade() else { return };
                    let _token = BodyToken::new(&w, s);
                    w.parts().log.event(
                        &actor,
                        format!("start {}", w.sc.jits[func].name),
                        Shape::Begin,
                    );
                    Body {
                        w: w.clone(),
                        actor,
                        func,
                        ret: None,
                        place: Place::Task,
                        guards: Vec::new(),
                    }
                    .run();
                });
                if let Err(e) = r {
                    self.log(format!("dispatch refused: {}: {}", e.kind(), e.message()));
                }
            }
            Op::AddManager(m) => {
                self.log(format!("adds manager {}", m.name));
                add_manager(&w, m, true, 0);
            }
            Op::Panic(m) => {
                self.log(format!("panics: {m}"));
                injected_panic(m);
            }
        }
        Flow::Next
    }
}
