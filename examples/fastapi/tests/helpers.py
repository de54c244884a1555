"""Shared test helpers: problem assertions and hand-made tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from latch_auth import LatchSettings

CLIENT_ID = "notes-api"
CLIENT_SECRET = "test-introspection-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_for(latch, **overrides) -> LatchSettings:
    """App settings pointing at this Latch, with the introspection client."""
    values = dict(url=latch.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    values.update(overrides)
    return LatchSettings(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status: int, code: str) -> dict:
    """The response is a Latch-shaped problem with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code"}
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:latch:problem:{code}"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


def unverified(token: str) -> tuple[dict, dict]:
    """The header and claims of a token, without checking anything."""
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def hs256_token(header: dict, claims: dict, secret: bytes) -> str:
    """An HS256 JWT built by hand (PyJWT refuses to use key-like secrets)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def eddsa_token(key: Ed25519PrivateKey, header: dict, claims: dict) -> str:
    """An EdDSA JWT signed with `key`, with exactly `header` (no typ added)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"
