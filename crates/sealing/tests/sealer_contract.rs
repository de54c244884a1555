//! The master key passes the `SecretSealer` contract.

use latch_sealing::MasterKey;

#[allow(clippy::unwrap_used)]
fn key() -> MasterKey {
    MasterKey::generate().unwrap().0
}

latch_testkit::secret_sealer_contract!(key(), other_key: key());
