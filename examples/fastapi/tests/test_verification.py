"""Offline verification against a real Latch: what is accepted, what is refused."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi.testclient import TestClient

from app import create_app
from tests.helpers import (
    assert_problem,
    b64url,
    b64url_decode,
    bearer,
    eddsa_token,
    free_port,
    hs256_token,
    segment,
    settings_for,
    unverified,
)


def test_public_route_needs_no_token(client):
    r = client.get("/public")
    assert r.status_code == 200


def test_a_latch_token_is_accepted(client, alice):
    r = client.get("/me", headers=alice.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": alice.user_id, "email": "alice@example.com", "tier": "free"}


def test_the_bearer_scheme_is_case_insensitive(client, alice):
    r = client.get("/me", headers={"Authorization": f"bearer {alice.access_token}"})
    assert r.status_code == 200, r.text


def test_no_token_is_401_unauthenticated(client):
    r = client.get("/me")
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("value", ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer not-a-jwt", "Token abc"])
def test_a_malformed_authorization_header_is_401_invalid_token(client, value):
    r = client.get("/me", headers={"Authorization": value})
    assert_problem(r, 401, "invalid_token")
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def _with_claims(token: str, **changes) -> str:
    """The same header and signature over changed claims."""
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims.update(changes)
    return f"{header}.{segment(claims)}.{signature}"


def _with_flipped_signature_bit(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[10] ^= 0x01
    return f"{header}.{payload}.{b64url(bytes(raw))}"


def _with_header(token: str, **changes) -> str:
    _, payload, signature = token.split(".")
    header, _ = unverified(token)
    header.update(changes)
    return f"{segment(header)}.{payload}.{signature}"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: _with_claims(t, is_superuser=True), id="claims-made-superuser"),
        pytest.param(lambda t: _with_claims(t, exp=unverified(t)[1]["exp"] + 3600), id="claims-longer-exp"),
        pytest.param(_with_flipped_signature_bit, id="signature-bit-flipped"),
        pytest.param(lambda t: _with_header(t, extra="x"), id="header-changed"),
        pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", id="signature-removed"),
    ],
)
def test_a_tampered_token_is_401(client, alice, tamper):
    assert_problem(client.get("/me", headers=bearer(tamper(alice.access_token))), 401, "invalid_token")


def test_a_token_signed_by_another_key_with_latchs_kid_is_401(client, alice):
    header, claims = unverified(alice.access_token)
    forged = eddsa_token(Ed25519PrivateKey.generate(), header, claims)
    assert unverified(forged) == (header, claims)  # everything but the key is Latch's
    assert_problem(client.get("/me", headers=bearer(forged)), 401, "invalid_token")


def test_a_token_with_an_unknown_kid_is_401(client, alice):
    header, claims = unverified(alice.access_token)
    forged = eddsa_token(Ed25519PrivateKey.generate(), {**header, "kid": "not-a-latch-key"}, claims)
    assert_problem(client.get("/me", headers=bearer(forged)), 401, "invalid_token")


@pytest.mark.parametrize("signature", ["", "keep"], ids=["empty-signature", "latch-signature"])
@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_401(client, alice, alg, signature):
    header, payload, latch_signature = alice.access_token.split(".")
    forged_header = {**unverified(alice.access_token)[0], "alg": alg}
    forged = f"{segment(forged_header)}.{payload}.{latch_signature if signature == 'keep' else ''}"
    assert_problem(client.get("/me", headers=bearer(forged)), 401, "invalid_token")


def _latch_public_key(latch, kid: str) -> tuple[dict, bytes]:
    jwk = next(k for k in latch.http.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
    return jwk, b64url_decode(jwk["x"])


@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk-x", "jwk-json"])
def test_hs256_signed_with_latchs_public_key_is_401(client, latch, alice, secret_form):
    header, claims = unverified(alice.access_token)
    jwk, raw = _latch_public_key(latch, header["kid"])
    pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secret = {
        "raw": raw,
        "pem": pem,
        "jwk-x": jwk["x"].encode(),
        "jwk-json": json.dumps(jwk).encode(),
    }[secret_form]
    forged = hs256_token({**header, "alg": "HS256"}, claims, secret)
    assert_problem(client.get("/me", headers=bearer(forged)), 401, "invalid_token")


def test_an_app_expecting_another_audience_refuses_latch_tokens(latch, alice):
    with TestClient(create_app(settings_for(latch, audience="billing-service"))) as other:
        assert_problem(other.get("/me", headers=alice.auth), 401, "invalid_token")


def test_an_app_expecting_another_issuer_refuses_latch_tokens(latch, alice):
    with TestClient(create_app(settings_for(latch, issuer="https://auth.example.com"))) as other:
        assert_problem(other.get("/me", headers=alice.auth), 401, "invalid_token")


def test_errors_outside_auth_are_problems_too(client, alice):
    assert_problem(client.get("/nowhere"), 404, "not_found")
    r = client.patch(f"/notes/{alice.user_id}", headers=alice.auth, json={"wrong": 1})
    assert_problem(r, 422, "validation_failed")


def test_an_unreachable_latch_is_503_not_401(latch, alice):
    dead = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"
    with TestClient(create_app(settings_for(latch, jwks_url=dead))) as other:
        assert_problem(other.get("/me", headers=alice.auth), 503, "auth_unavailable")
