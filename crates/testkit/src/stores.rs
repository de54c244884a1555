//! The pair of repositories the store contract suites run against.

use std::any::Any;
use std::sync::Arc;

use latch_ports::{SessionRepository, UserRepository};

use crate::{InMemorySessionRepository, InMemoryUserRepository};

/// A fresh, empty set of repositories sharing one backing store (sessions
/// reference users), plus whatever must live as long as they do.
pub struct Stores {
    /// The users repository.
    pub users: Arc<dyn UserRepository>,
    /// The sessions repository.
    pub sessions: Arc<dyn SessionRepository>,
    /// Kept alive until the test ends (a temporary database, say).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Stores {
    /// The in-memory fakes.
    pub fn in_memory() -> Self {
        Self {
            users: Arc::new(InMemoryUserRepository::default()),
            sessions: Arc::new(InMemorySessionRepository::default()),
            guard: None,
        }
    }
}
