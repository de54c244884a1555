//! Who may do what to whom: the authorization rules, as plain functions.

use crate::User;

/// A rule an administrative action would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// The actor may not use the admin API.
    #[error("only superusers may do this")]
    NotAdministrator,
    /// The action would leave no active superuser to administer the service.
    #[error("this would leave no active superuser")]
    LastSuperuser,
}

/// What an administrative action does to a user's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StandingChange {
    /// New superuser flag, if changed.
    pub is_superuser: Option<bool>,
    /// New active flag, if changed.
    pub is_active: Option<bool>,
    /// The user is being soft-deleted.
    pub delete: bool,
}

impl StandingChange {
    /// Whether the change can take a superuser's standing away: a demotion,
    /// a deactivation or a deletion.
    pub fn takes_standing(&self) -> bool {
        self.delete || self.is_superuser == Some(false) || self.is_active == Some(false)
    }
}

/// Only active superusers may use the admin API.
pub fn require_administrator(actor: &User) -> Result<(), PolicyViolation> {
    if actor.is_superuser && actor.can_authenticate() {
        Ok(())
    } else {
        Err(PolicyViolation::NotAdministrator)
    }
}

/// Whether `target` counts as an active superuser now.
pub fn is_active_superuser(user: &User) -> bool {
    user.is_superuser && user.can_authenticate()
}

/// Refuses a change that would take away the last active superuser —
/// demoting, deactivating or deleting them, whoever asks (including themself).
/// `active_superusers` counts the active superusers before the change.
///
/// The count and the write must be one atomic step: stores apply this rule
/// inside the transaction that writes the change.
pub fn check_standing_change(
    target: &User,
    change: StandingChange,
    active_superusers: u64,
) -> Result<(), PolicyViolation> {
    if is_active_superuser(target) && change.takes_standing() && active_superusers <= 1 {
        return Err(PolicyViolation::LastSuperuser);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(is_superuser: bool) -> User {
        User {
            is_superuser,
            is_staff: is_superuser,
            ..crate::user::tests::user()
        }
    }

    #[test]
    fn only_active_superusers_administer() {
        assert_eq!(require_administrator(&user(true)), Ok(()));
        assert_eq!(
            require_administrator(&user(false)),
            Err(PolicyViolation::NotAdministrator)
        );
        let inactive = User {
            is_active: false,
            ..user(true)
        };
        assert_eq!(
            require_administrator(&inactive),
            Err(PolicyViolation::NotAdministrator)
        );
        let deleted = User {
            deleted_at: Some(Utc::now()),
            ..user(true)
        };
        assert_eq!(
            require_administrator(&deleted),
            Err(PolicyViolation::NotAdministrator)
        );
    }

    #[test]
    fn the_last_superuser_cannot_be_demoted_deactivated_or_deleted() {
        let last = user(true);
        for change in [
            StandingChange {
                is_superuser: Some(false),
                ..Default::default()
            },
            StandingChange {
                is_active: Some(false),
                ..Default::default()
            },
            StandingChange {
                delete: true,
                ..Default::default()
            },
        ] {
            assert_eq!(
                check_standing_change(&last, change, 1),
                Err(PolicyViolation::LastSuperuser),
                "{change:?}"
            );
            assert_eq!(check_standing_change(&last, change, 2), Ok(()), "{change:?}");
        }
    }

    #[test]
    fn harmless_changes_pass() {
        let last = user(true);
        let promote = StandingChange {
            is_superuser: Some(true),
            is_active: Some(true),
            delete: false,
        };
        assert_eq!(check_standing_change(&last, promote, 1), Ok(()));
        let ordinary = user(false);
        let delete = StandingChange {
            delete: true,
            ..Default::default()
        };
        assert_eq!(check_standing_change(&ordinary, delete, 1), Ok(()));
    }
}
