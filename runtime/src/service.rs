//! Services the caller keeps using after handing them to a session
//! (upstream `Session::addService`, `createService`, `tryCreateService`,
//! which return a typed reference): shared, so their methods take `&self`.
//!
//! A [`Service`] is the shared form of a [`ResourceManager`]: the session
//! owns one reference and calls `detach` and `shutdown` with the same
//! guarantees (spec 6); the caller gets an [`Arc`] to the same object and
//! may call it from any thread meanwhile, as JIT'd code and wrapper
//! functions do. Adding one never fails; a service added after detach or
//! shutdown began is detached (and shut down) at once, like any manager.
//!
//! ```
//! use std::sync::Mutex;
//! use orc_rt::{OnComplete, Session, Service, dispatcher::InlineDispatcher};
//!
//! #[derive(Default)]
//! struct Registry {
//!     names: Mutex<Vec<String>>,
//! }
//! impl Service for Registry {
//!     fn shutdown(&self, done: OnComplete) {
//!         self.names.lock().unwrap().clear();
//!         done.ok();
//!     }
//! }
//!
//! let session = Session::builder().dispatcher(InlineDispatcher).build().unwrap();
//! let registry = session.add_service(Registry::default());
//! registry.names.lock().unwrap().push("main".into()); // still ours to use
//! session.wait_for_shutdown().unwrap();
//! assert!(registry.names.lock().unwrap().is_empty(), "shut down by the session");
//! ```

use std::sync::Arc;

use crate::error::Error;
use crate::resource_manager::{OnComplete, ResourceManager};
use crate::session::SessionHandle;

/// A service shared between the session that tears it down and the code
/// that uses it (upstream `Service`). Same contract as
/// [`ResourceManager`] (spec 6), through `&self`: keep mutable state behind
/// your own lock.
pub trait Service: Send + Sync {
    /// A name for error messages; defaults to the type's name.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The controller is gone (exactly once, before
    /// [`shutdown`](Self::shutdown)); JIT'd code may still use the service.
    /// The default completes at once: most services keep everything until
    /// shutdown.
    fn detach(&self, done: OnComplete, shutdown_requested: bool) {
        let _ = shutdown_requested;
        done.ok();
    }

    /// Release everything: no JIT'd code runs any more (exactly once).
    fn shutdown(&self, done: OnComplete);
}

/// The session's reference to a shared service is a resource manager.
impl<T: Service + ?Sized> ResourceManager for Arc<T> {
    fn name(&self) -> &str {
        T::name(self)
    }

    fn detach(&mut self, done: OnComplete, shutdown_requested: bool) {
        T::detach(self, done, shutdown_requested);
    }

    fn shutdown(&mut self, done: OnComplete) {
        T::shutdown(self, done);
    }
}

impl SessionHandle {
    /// Adds `service` and returns a reference to it (upstream `addService`):
    /// the session tears it down like any
    /// [resource manager](Self::add_resource_manager); the caller keeps
    /// using it.
    pub fn add_service<T: Service + 'static>(&self, service: T) -> Arc<T> {
        self.add_shared_service(Arc::new(service))
    }

    /// [`add_service`](Self::add_service) for a service that is already
    /// shared (e.g. a trait object, `Arc<dyn MyApi>`).
    pub fn add_shared_service<T: Service + ?Sized + 'static>(&self, service: Arc<T>) -> Arc<T> {
        self.add_resource_manager(service.clone());
        service
    }

    /// Builds a service from this session and adds it (upstream
    /// `createService`): `make` gets the session, which services commonly
    /// keep to report errors or register wrapper functions.
    pub fn create_service<T: Service + 'static>(
        &self,
        make: impl FnOnce(&SessionHandle) -> T,
    ) -> Arc<T> {
        self.add_service(make(self))
    }

    /// Builds a service with a fallible constructor and adds it (upstream
    /// `tryCreateService`, which forwards to `ServiceT::Create`). On an
    /// error nothing is added and the error is returned.
    pub fn try_create_service<T: Service + 'static>(
        &self,
        make: impl FnOnce(&SessionHandle) -> Result<T, Error>,
    ) -> Result<Arc<T>, Error> {
        Ok(self.add_service(make(self)?))
    }
}
