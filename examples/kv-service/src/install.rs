//! Putting the service where calls reach it: any session ([`install`]),
//! orc-executor's `Executor` ([`executor_parts`], feature `executor`), or
//! orc-sim's scheduler ([`simulate`], feature `sim`). Each registers the
//! three wrapper functions of [`crate::wire`] under their names and hands
//! the session the [`Kv`] to detach and shut down.

use std::sync::Arc;

use orc_rt::controller_access::BootstrapInfo;
use orc_rt::error::Error;
use orc_rt::session::SessionHandle;

use crate::service::Kv;
use crate::wire;

/// Adds `kv` to `session` as a service, registers its wrapper functions,
/// and publishes them in `bootstrap` (the Setup message of an access you
/// attach yourself); returns the service, which you may keep using.
///
/// ```
/// use orc_rt::{BootstrapInfo, Session, dispatcher::InlineDispatcher};
/// let session = Session::builder().dispatcher(InlineDispatcher).build().unwrap();
/// let mut bootstrap = BootstrapInfo::default_for(&session);
/// let kv = kv::install(&session, kv::Kv::new(), &mut bootstrap).unwrap();
/// assert!(bootstrap.symbols.get("kv_wait").is_some());
/// kv.put("k".into(), b"v".to_vec()).unwrap();
/// session.wait_for_shutdown().unwrap();
/// assert!(kv.store().is_empty(), "shut down with the session");
/// ```
pub fn install(
    session: &SessionHandle,
    kv: Kv,
    bootstrap: &mut BootstrapInfo,
) -> Result<Arc<Kv>, Error> {
    let kv = Arc::new(kv);
    let symbols = session.register_table(wire::table(&kv));
    bootstrap.symbols.add_unique(symbols.iter())?;
    Ok(session.add_shared_service(kv))
}

/// The service as `orc_executor::ExecutorBuilder::service` takes it: the
/// wrapper functions (published under their names in the Setup message)
/// and the manager (the session's reference to `kv`).
///
/// ```no_run
/// use std::sync::Arc;
/// let kv = Arc::new(kv::Kv::new());
/// let (functions, manager) = kv::executor_parts(&kv);
/// orc_executor::Executor::builder()
///     .connection("tcp:listen=127.0.0.1:20000".parse().unwrap())
///     .service(functions, manager)
///     .run()
///     .unwrap();
/// ```
#[cfg(feature = "executor")]
pub fn executor_parts(
    kv: &Arc<Kv>,
) -> (
    orc_rt::wrapper::WrapperTable,
    Option<Box<dyn orc_rt::ResourceManager>>,
) {
    (wire::table(kv), Some(Box::new(kv.clone())))
}

/// Adds the service to an orc-sim simulation: every run gets a fresh
/// [`Kv`] whose events are logged as `kv: ...` lines (for the script's
/// `expect` and `await`) and whose manager is logged as `rm kv: ...` and
/// checked by the lifecycle rules. This is what `tests/scenarios.rs` gives
/// `orc_sim::scenario_tests!`.
///
/// ```
/// use orc_sim::simulation::Simulation;
/// let sim = kv::simulate(Simulation::builder().script(
///     "doc.scn",
///     "# rule: example: kv_get of a key never put is none\n---\nattach\n\
///      call g kv_get str \"k\"\nawait g done\nexpect g ok bool false\n",
/// ))
/// .build()
/// .unwrap();
/// let outcome = sim.run(7);
/// assert!(outcome.passed(), "{}", outcome.render());
/// ```
#[cfg(feature = "sim")]
pub fn simulate(
    b: orc_sim::simulation::SimulationBuilder,
) -> orc_sim::simulation::SimulationBuilder {
    b.service(&wire::NAMES, |ctx| {
        let log = ctx.log();
        let kv = Arc::new(Kv::with_observer(move |e| log.note("kv", e.to_string())));
        for (name, entry) in wire::table(&kv).into_entries() {
            ctx.register(&name, entry)?;
        }
        ctx.add_resource_manager(kv);
        Ok(())
    })
}
