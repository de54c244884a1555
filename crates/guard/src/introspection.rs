//! Asking Latch whether a token is still live (RFC 7662), for routes that
//! must see a logout at once, with a short cache so a busy route does not ask
//! for every request.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::GuardError;

/// Most answers kept; past it the expired ones go, then all of them.
const MAX_CACHED: usize = 10_000;

/// The introspection client of one Latch.
pub(crate) struct Introspector {
    url: String,
    http: reqwest::Client,
    client_id: String,
    client_secret: String,
    ttl: Duration,
    answers: Mutex<HashMap<String, (Instant, bool)>>,
}

#[derive(Deserialize)]
struct Answer {
    active: bool,
}

impl Introspector {
    pub(crate) fn new(
        url: String,
        http: reqwest::Client,
        client_id: String,
        client_secret: String,
        ttl: Duration,
    ) -> Self {
        Self {
            url,
            http,
            client_id,
            client_secret,
            ttl,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether Latch says `token` is active, from the cache when the answer
    /// is younger than the TTL.
    pub(crate) async fn is_active(&self, token: &str) -> Result<bool, GuardError> {
        if let Some((at, active)) = self.answers.lock().await.get(token).copied()
            && at.elapsed() < self.ttl
        {
            return Ok(active);
        }
        let active = self.ask(token).await?;
        let mut answers = self.answers.lock().await;
        if answers.len() >= MAX_CACHED {
            let ttl = self.ttl;
            answers.retain(|_, (at, _)| at.elapsed() < ttl);
            if answers.len() >= MAX_CACHED {
                answers.clear();
            }
        }
        answers.insert(token.to_owned(), (Instant::now(), active));
        Ok(active)
    }

    async fn ask(&self, token: &str) -> Result<bool, GuardError> {
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| {
                tracing::warn!(url = %self.url, error = %err, "introspection failed");
                GuardError::Unavailable
            })?;
        let answer: Answer = response.json().await.map_err(|err| {
            tracing::warn!(url = %self.url, error = %err, "introspection answer unreadable");
            GuardError::Unavailable
        })?;
        Ok(answer.active)
    }
}
