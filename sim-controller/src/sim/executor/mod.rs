//! The executor side of the simulation: the real session, with the
//! scenario's resource managers, its JIT'd functions registered as wrapper
//! functions, a dispatcher the scheduler drains, the real executor services
//! when the scenario says `services`, and a controller access: by default
//! `orc-executor`'s own, reading and writing the simulated pipe; a model of
//! it for scenarios about the session core alone.

mod book;
#[allow(unsafe_code, reason = "C entry points for async-c JIT'd functions")]
mod c_abi;
mod dispatcher;
pub(crate) mod host;
pub(crate) mod jit;
pub(crate) mod managers;
pub(crate) mod model;
mod transport;

use std::sync::{Arc, Mutex};

use orc_rt::wrapper::WrapperEntry;
use orc_rt::{
    Error, ExecutionScopeGuard, ProcessInfo, Session, WrapperFunctionBuffer, WrapperReturn,
};

pub(crate) use book::Book;
pub(crate) use host::HostThread;
pub(crate) use transport::{PipeWait, SimTransport};

use super::World;
use super::addresses::jit_addr;
use crate::lifecycle::Phase;
use crate::scenario::{AccessKind, AttachHow, FaultKind, JitAbi, OnDisconnect};
use crate::transcript::Shape;
use dispatcher::SimDispatcher;

/// Builds the sessions, the default one first, then the scenario's
/// further ones (`session NAME`), then adds every session's managers.
pub(crate) fn build_sessions(w: &Arc<World>) -> Result<Vec<Session>, Error> {
    let mut all = vec![build_session(w)?];
    for s in 1..=w.sc.sessions.len() {
        all.push(build_other_session(w, s)?);
    }
    let _ = w.others.set(all[1..].iter().map(Session::handle).collect());
    for m in &w.sc.managers {
        managers::add(w, m, false, 0);
    }
    Ok(all)
}

/// A builder of session `s`: process info, error reporter and a
/// dispatcher the scheduler drains (holding a guard if the scenario says
/// so).
fn builder(w: &Arc<World>, s: usize) -> orc_rt::SessionBuilder {
    let weak = w.me.clone();
    let actor = w.scoped(s, "session");
    let reporter = move |e: Error| {
        if let Some(w) = weak.upgrade() {
            w.note(
                &actor,
                format!("report_error: {}: {}", e.kind(), e.message()),
            );
        }
    };
    let builder = Session::builder()
        .process_info(
            w.provided
                .process
                .clone()
                .unwrap_or_else(|| ProcessInfo::new("x86_64-unknown-linux-gnu", 4096)),
        )
        .error_reporter(reporter);
    let make = {
        let w = w.clone();
        move |guard: Option<ExecutionScopeGuard>| {
            if guard.is_some() {
                w.parts().book.live[s].dispatcher_guard = true;
            }
            SimDispatcher {
                inner: w.queues[s].clone(),
                w: w.me.clone(),
                guard: Mutex::new(guard),
                s,
            }
        }
    };
    if w.sc.dispatcher.holding_guard {
        builder.dispatcher_holding_guard(move |g| make(Some(g)))
    } else {
        builder.dispatcher(make(None))
    }
}

/// Registers the simulation's own on-shutdown watcher with session `s`,
/// first so that it runs last (newest first): it marks the very end of
/// shutdown.
fn add_watcher(w: &Arc<World>, session: &Session, s: usize) {
    let weak = w.me.clone();
    {
        let mut p = w.parts();
        let c = &mut p.checks.sessions[s];
        let watcher =
            c.lifecycle
                .callback_added("the simulation's shutdown watcher", Phase::Shutdown, true);
        c.watcher = Some(watcher);
    }
    session.add_on_shutdown(move |report| {
        if let Some(w) = weak.upgrade() {
            shutdown_watcher(&w, s, report);
        }
    });
}

/// How a session's on-disconnect handler logs the report.
fn on_disconnect_text(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "on-disconnect(ok)".to_owned(),
        Err(e) => format!("on-disconnect(error: {})", e.message()),
    }
}

/// Builds further session `s` (`session NAME`): no controller ever
/// attaches to it, no JIT'd function or service is registered with it;
/// its managers, callbacks and guards are the script's. Its on-disconnect
/// handler logs the report (`Ok`: it never attached, spec 8.6 step 2).
fn build_other_session(w: &Arc<World>, s: usize) -> Result<Session, Error> {
    let session = builder(w, s).build()?;
    add_watcher(w, &session, s);
    let weak = w.me.clone();
    let actor = w.scoped(s, "session");
    session.set_on_disconnect(move |r| {
        let Some(w) = weak.upgrade() else { return };
        let text = on_disconnect_text(&r);
        let mut p = w.parts();
        p.log.note(&actor, text);
        p.checks.sessions[s].lifecycle.disconnect_reported();
    })?;
    Ok(session)
}

/// Builds the default session: dispatcher, reporter, JIT'd functions,
/// on-disconnect handler and the simulation's own on-shutdown watcher (its
/// managers come with the others', [`build_sessions`]).
fn build_session(w: &Arc<World>) -> Result<Session, Error> {
    let legacy = {
        let weak = w.me.clone();
        move |addr: orc_rt::ExecutorAddr, args: &[u8]| match weak.upgrade() {
            Some(w) => legacy_call(&w, addr, args),
            None => WrapperFunctionBuffer::out_of_band_error("simulation gone"),
        }
    };
    let session = builder(w, 0).call_unregistered_with(legacy).build()?;
    let _ = w.session.set(session.handle());
    let _ = w.hooks.set(session.hooks());
    if w.sc.services {
        // The real services: their managers are the oldest, so they shut
        // down last, after the simulated ones.
        let options = orc_executor::services::ServiceOptions::new_in(w.os.clone());
        let installed =
            orc_executor::services::ExecutorServices::install_with(&session.handle(), options)?;
        let _ = w.services.set(installed);
        let actions = define_alloc_actions(w);
        w.parts().ctl.set_action_functions(actions);
    }
    if let Some(install) = &w.provided.install {
        let symbols = install(w, &session.handle())?;
        let _ = w.provided_symbols.set(symbols);
    }
    add_watcher(w, &session, 0);
    let mut async_c = Vec::new();
    for (i, j) in w.sc.jits.iter().enumerate() {
        match j.abi {
            JitAbi::Rust => {
                let weak = w.me.clone();
                session.register_at(
                    jit_addr(i),
                    WrapperEntry::new(move |args: WrapperFunctionBuffer, ret: WrapperReturn| {
                        match weak.upgrade() {
                            Some(w) => jit::wrapper_entry(&w, i, args.bytes(), ret),
                            None => ret
                                .send(WrapperFunctionBuffer::out_of_band_error("simulation gone")),
                        }
                    }),
                )?;
            }
            JitAbi::AsyncC => async_c.push(i),
            // Not registered: reached through `call_unregistered_with`.
            JitAbi::LegacyC => {}
        }
    }
    if async_c.len() > c_abi::MAX_ASYNC_C {
        return Err(Error::new(
            orc_rt::ErrorKind::InvalidArgument,
            format!(
                "at most {} async-c functions per scenario",
                c_abi::MAX_ASYNC_C
            ),
        ));
    }
    let entries = c_abi::register(w, session.as_raw(), async_c.clone());
    let mut symbols = Vec::new();
    for (k, i) in async_c.into_iter().enumerate() {
        symbols.push((i, session.register_async_wrapper(entries[k])));
    }
    let _ = w.async_c_addrs.set(symbols);
    match &w.sc.on_disconnect {
        OnDisconnect::None => {}
        how => {
            let how = how.clone();
            let weak = w.me.clone();
            session.set_on_disconnect(move |r| {
                let Some(w) = weak.upgrade() else { return };
                let text = on_disconnect_text(&r);
                {
                    let mut p = w.parts();
                    p.log.note("session", text);
                    p.checks.default_session().lifecycle.disconnect_reported();
                }
                match how {
                    OnDisconnect::Shutdown => {
                        w.note("session", "on-disconnect handler requests shutdown");
                        w.session().shutdown();
                    }
                    OnDisconnect::Panic(m) => managers::injected_panic(&m),
                    _ => {}
                }
            })?;
        }
    }
    Ok(session)
}

/// Session `s`'s last on-shutdown callback: logs the report and checks
/// that the services hold nothing.
fn shutdown_watcher(w: &Arc<World>, s: usize, report: &orc_rt::ShutdownReport) {
    let mut text = "shut down".to_owned();
    if let Some(e) = &report.disconnect_error {
        text.push_str(&format!("; disconnect error: {}", e.message()));
    }
    if report.errors.is_empty() {
        text.push_str("; report: no errors");
    } else {
        let list: Vec<String> = report
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.kind(), e.message()))
            .collect();
        text.push_str(&format!("; report: {}", list.join(" | ")));
    }
    let actor = w.scoped(s, "session");
    let mut p = w.parts();
    p.log.note(actor, text);
    let c = &mut p.checks.sessions[s];
    if let Some(watcher) = c.watcher {
        c.lifecycle.callback_ran(watcher);
    }
    if s > 0 {
        return;
    }
    if let Some((svc, _)) = w.services.get() {
        let n = svc.memory_manager.reservation_count();
        p.log.note(
            "memory manager",
            format!("{n} reservation(s) left after shutdown"),
        );
        if n != 0 {
            p.log
                .violation("the memory manager still holds reservations after shutdown");
        }
    }
    // The built-in services and the program's own, on the run's OS.
    let live = w.os.live_resources();
    if live != orc_executor::testing::LiveResources::default() {
        p.log.violation(format!(
            "the services left OS resources behind after shutdown: {live:?}"
        ));
    }
}

/// The C library names the simulated process exports (what the empty
/// path opens), at addresses of the simulated OS's function range where
/// no function is defined: lookups find them, calling one fails.
const PROCESS_SYMBOLS: &[&str] = &["malloc", "free", "memcpy", "memset", "abort", "printf"];

/// A run's OS: deterministic, placed by the run's seed, exporting
/// [`PROCESS_SYMBOLS`].
pub(crate) fn simulated_process(seed: u64) -> orc_executor::os::SimulatedOs {
    let os = orc_executor::os::SimulatedOs::new(seed);
    // Below the range `define_function` fills, so never a defined one.
    let base = orc_executor::os::SimulatedOs::FUNCTION_BASE - 0x1000;
    os.add_process_symbols(
        PROCESS_SYMBOLS
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, orc_rt::ExecutorAddr::new(base + 16 * i as u64))),
    );
    os
}

/// Defines the allocation-action functions `initialize ... action ok|fail`
/// attaches in the run's simulated process, and tells the controller where
/// they are (as a JIT linker knows the functions it linked). Each logs
/// what ran, by the action's name (`action: alloc action i1 #1: finalize`).
fn define_alloc_actions(w: &Arc<World>) -> crate::services::ActionFunctions {
    let logged = |step: &'static str, fails: bool| {
        let weak = w.me.clone();
        orc_executor::os::SimulatedFunction::wrapper(move |args| {
            let decoded = if fails {
                orc_rt::sps::from_bytes::<(String, String)>(args).map(|(n, m)| (n, Some(m)))
            } else {
                orc_rt::sps::from_bytes::<String>(args).map(|n| (n, None))
            };
            let Ok((name, failure)) = decoded else {
                return WrapperFunctionBuffer::out_of_band_error(
                    "the simulation's allocation action got arguments it does not know",
                );
            };
            if let Some(w) = weak.upgrade() {
                let outcome = failure
                    .as_ref()
                    .map_or_else(String::new, |m| format!(" fails: {m}"));
                w.note("action", format!("alloc action {name}: {step}{outcome}"));
            }
            match failure {
                Some(m) => WrapperFunctionBuffer::out_of_band_error(&m),
                None => WrapperFunctionBuffer::empty(),
            }
        })
    };
    crate::services::ActionFunctions {
        succeed: w.os.define_function(logged("finalize", false)),
        fail: w.os.define_function(logged("finalize", true)),
        dealloc: w.os.define_function(logged("dealloc", false)),
    }
}

/// The `attach` step: the controller access connects (and sends Setup).
pub(crate) fn attach(w: &Arc<World>, how: AttachHow) {
    let text = match &how {
        AttachHow::Normal => "attach".to_owned(),
        AttachHow::Fail(m) => format!("attach (connect will fail: {m})"),
        AttachHow::ShutdownInConnect => "attach (shutdown will be requested inside connect)".into(),
        AttachHow::DetachInConnect => "attach (detach will be requested inside connect)".into(),
    };
    w.note("script", text);
    let mut bootstrap = w.services.get().map(|(_, b)| b.clone()).unwrap_or_default();
    if let Some(symbols) = w.provided_symbols.get()
        && let Err(e) = bootstrap.symbols.add_unique(symbols.iter().cloned())
    {
        w.failure(format!("the provided symbols clash: {}", e.message()));
        return;
    }
    let async_c = w.async_c_addrs.get().cloned().unwrap_or_default();
    let jits = w.sc.jits.iter().enumerate().map(|(i, j)| {
        let addr = match j.abi {
            JitAbi::Rust => jit_addr(i),
            JitAbi::LegacyC => legacy_addr(i),
            JitAbi::AsyncC => async_c
                .iter()
                .find(|(k, _)| *k == i)
                .map_or(orc_rt::ExecutorAddr::NULL, |(_, a)| *a),
        };
        (j.name.clone(), addr)
    });
    if let Err(e) = bootstrap.symbols.add_unique(jits) {
        w.failure(format!(
            "the JIT'd functions' symbols clash: {}",
            e.message()
        ));
        return;
    }
    let session = w.session();
    // A broken access is the model's to play.
    let broken =
        w.sc.faults
            .iter()
            .any(|f| f.kind == FaultKind::CaDeliversLate);
    let result = match w.sc.access {
        AccessKind::Real if !broken => attach_real(w, &session, bootstrap, how),
        _ => model::attach(w, &session, bootstrap, how),
    };
    if let Err(e) = result {
        w.note(
            "script",
            format!("attach → error {}: {}", e.kind(), e.message()),
        );
    }
}

/// Where `legacy-c` JIT'd functions live (nothing is registered there).
pub(crate) const LEGACY_BASE: u64 = 0x3000_0000;

/// The address of `legacy-c` JIT'd function `i`.
fn legacy_addr(i: usize) -> orc_rt::ExecutorAddr {
    orc_rt::ExecutorAddr::new(LEGACY_BASE + i as u64 * super::STRIDE)
}

/// The session's handler for unregistered addresses: a `legacy-c` JIT'd
/// function runs to its end and returns its result synchronously, as
/// LLVM 22's `CWrapperFunctionResult fn(const char *, size_t)` does.
fn legacy_call(w: &Arc<World>, addr: orc_rt::ExecutorAddr, args: &[u8]) -> WrapperFunctionBuffer {
    let v = addr.value();
    let func = (v >= LEGACY_BASE && (v - LEGACY_BASE).is_multiple_of(super::STRIDE))
        .then(|| ((v - LEGACY_BASE) / super::STRIDE) as usize)
        .filter(|&i| w.sc.jits.get(i).is_some_and(|j| j.abi == JitAbi::LegacyC));
    let Some(func) = func else {
        return WrapperFunctionBuffer::out_of_band_error(&format!(
            "no wrapper function registered at {addr}"
        ));
    };
    let slot = Arc::new(Mutex::new(None));
    let s = slot.clone();
    jit::wrapper_entry(
        w,
        func,
        args,
        WrapperReturn::new(move |r| *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(r)),
    );
    let result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    result.unwrap_or_else(WrapperFunctionBuffer::empty)
}

/// Attaches `orc-executor`'s `WireControllerAccess` over the simulated
/// pipe; its reader runs on a simulated thread of its own. `how`: a
/// connection refused (the Setup write fails), or a detach or shutdown
/// requested from inside `connect` (by a thin wrapper around the real
/// access, as an embedder's own access might).
fn attach_real(
    w: &Arc<World>,
    session: &orc_rt::SessionHandle,
    bootstrap: orc_rt::BootstrapInfo,
    how: AttachHow,
) -> Result<(), Error> {
    use orc_executor::wire::{WireControllerAccess, WireOptions};
    let transport: Arc<dyn orc_executor::transport::Transport> =
        Arc::new(SimTransport { w: w.me.clone() });
    let options = WireOptions {
        read_on_caller: true,
        // The simulated controller reads result kinds (protocol 3.1), so
        // an out-of-band error reaches it with its message.
        result_kinds: true,
        ..WireOptions::default()
    };
    if let AttachHow::Fail(msg) = &how {
        w.parts().pipe.refused = Some(msg.clone());
    }
    let mut real = None;
    session.attach_with(bootstrap, |hooks| {
        let access = WireControllerAccess::new(hooks, transport, options);
        real = Some(access.clone());
        Ok(Arc::new(InConnect {
            w: w.me.clone(),
            how,
            inner: access,
        }))
    })?;
    let access = real.expect("attach_with built the access");
    w.start_thread(move |w| {
        w.note("ca reader", "reads the controller's messages");
        access.serve();
        w.parts()
            .log
            .event("ca reader", "stops reading", Shape::End);
    });
    Ok(())
}

/// The real access, with the script's request from inside `connect`.
struct InConnect {
    w: std::sync::Weak<World>,
    how: AttachHow,
    inner: Arc<orc_executor::wire::WireControllerAccess>,
}

impl orc_rt::ControllerAccess for InConnect {
    fn connect(&self, bootstrap: orc_rt::BootstrapInfo) {
        if let Some(w) = self.w.upgrade() {
            match self.how {
                AttachHow::ShutdownInConnect => {
                    w.note("ca", "connect: shutdown requested while connecting");
                    w.session().shutdown();
                    w.note("ca", "connect: shutdown() returned; connecting goes on");
                }
                AttachHow::DetachInConnect => {
                    w.note("ca", "connect: detach requested while connecting");
                    w.session().detach();
                    w.note("ca", "connect: detach() returned; connecting goes on");
                }
                _ => {}
            }
        }
        self.inner.connect(bootstrap);
        if let Some(w) = self.w.upgrade() {
            w.note("ca", "connect returned");
        }
    }

    fn disconnect(&self) {
        self.inner.disconnect();
    }

    fn call_controller(
        &self,
        tag: orc_rt::ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: orc_rt::ControllerCallReturn,
    ) {
        self.inner.call_controller(tag, args, on_complete);
    }

    fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer) {
        self.inner.send_wrapper_result(call_id, result);
    }

    fn wrapper_handler_returned(&self, call_id: u64) {
        self.inner.wrapper_handler_returned(call_id);
    }
}
