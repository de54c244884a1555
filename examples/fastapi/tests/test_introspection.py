"""Offline checks see a logout only at expiry; the introspecting route sees it at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app import create_app
from tests.helpers import assert_problem, settings_for


def test_a_logout_is_seen_at_once_by_introspection_only(client, latch):
    session = latch.login("alice@example.com", "plum-orbit-canvas-71")
    assert client.get("/me/live", headers=session.auth).json()["id"] == session.user_id
    assert client.get("/me", headers=session.auth).status_code == 200

    r = latch.http.post("/api/v1/auth/logout", params={"scope": "local"}, headers=session.auth)
    assert r.status_code == 204, r.text

    assert_problem(client.get("/me/live", headers=session.auth), 401, "invalid_token")
    # Offline verification cannot know: the token stays good until it expires.
    assert client.get("/me", headers=session.auth).status_code == 200


def test_introspection_without_client_credentials_is_503(latch, alice):
    with TestClient(create_app(settings_for(latch, client_id=None, client_secret=None))) as app:
        assert_problem(app.get("/me/live", headers=alice.auth), 503, "auth_unavailable")


def test_a_wrong_client_secret_is_503_not_a_pass(latch, alice):
    with TestClient(create_app(settings_for(latch, client_secret="wrong"))) as app:
        assert_problem(app.get("/me/live", headers=alice.auth), 503, "auth_unavailable")
