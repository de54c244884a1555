"""After `latch keys rotate`, tokens with the new kid are accepted, old ones still too."""

from __future__ import annotations

import time

from tests.helpers import bearer, unverified


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.2)


def test_a_rotated_key_is_fetched_and_the_retired_one_still_verifies(client, latch, alice):
    old_kid = unverified(alice.access_token)[0]["kid"]
    assert client.get("/me", headers=alice.auth).status_code == 200  # the app holds the JWKS now

    latch.cli("keys", "rotate")

    # Latch re-reads its ring every second here (keys.reload_seconds = 1).
    def a_token_with_a_new_kid():
        session = latch.login("alice@example.com", "plum-orbit-canvas-71")
        return session if unverified(session.access_token)[0]["kid"] != old_kid else None

    new = _wait_for(a_token_with_a_new_kid, 15, "Latch to sign with the new key")
    new_kid = unverified(new.access_token)[0]["kid"]
    jwks_kids = {k["kid"] for k in latch.http.get("/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= jwks_kids

    # The unknown kid makes PyJWKClient fetch the JWKS again (at most once per
    # cooldown, 5 s by default).
    cooldown = client.app.state.latch.settings.jwks_refetch_cooldown_seconds
    _wait_for(
        lambda: client.get("/me", headers=new.auth).status_code == 200,
        cooldown + 2,
        "the app to accept the new kid",
    )
    assert client.get("/me", headers=bearer(alice.access_token)).status_code == 200
