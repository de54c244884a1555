//! Who a request came from, as sessions and the audit trail record it.

use latch_domain::Session;

/// Longest `User-Agent` kept with a session or an audit event.
const USER_AGENT_MAX: usize = 512;

/// Where a request came from: kept with the sessions it opens and in the
/// audit trail, and the key of the per-IP budgets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's IP.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

impl Client {
    /// The client a session was opened from: what is known of a request
    /// authenticated by that session's token.
    pub fn of_session(session: &Session) -> Self {
        Self {
            ip: session.ip.clone(),
            user_agent: session.user_agent.clone(),
        }
    }

    /// The `User-Agent` as stored: its first 512 characters.
    pub(crate) fn stored_user_agent(&self) -> Option<String> {
        self.user_agent
            .as_ref()
            .map(|ua| ua.chars().take(USER_AGENT_MAX).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_user_agent_is_cut_at_512_characters() {
        let client = Client {
            ip: None,
            user_agent: Some("é".repeat(600)),
        };
        let stored = client.stored_user_agent().unwrap_or_default();
        assert_eq!(stored.chars().count(), USER_AGENT_MAX);
        assert_eq!(Client::default().stored_user_agent(), None);
    }
}
