"""Header and claim rules that need tokens Latch would never sign.

Latch's private key stays inside Latch, so these tests stand up a second key
set: a JWKS served over HTTP from this process, with an Ed25519 key the test
holds. The app is pointed at it with LatchSettings.jwks_url and otherwise runs
exactly as it does against Latch (the real-Latch tests are in the other files).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient

from app import create_app
from latch_auth import LatchSettings
from tests.helpers import assert_problem, b64url, bearer, eddsa_token

KID = "test-key-1"
KEY = Ed25519PrivateKey.generate()
JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "use": "sig",
            "alg": "EdDSA",
            "kid": KID,
            "x": b64url(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        }
    ]
}
USER_ID = "01a24536-0000-7000-8000-000000000001"


class _JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps(JWKS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def own_keys_client():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = LatchSettings(
        url="http://127.0.0.1:9",  # not used: no introspection here
        jwks_url=f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client
    server.shutdown()
    server.server_close()


def header(**changes) -> dict:
    return {"typ": "at+jwt", "alg": "EdDSA", "kid": KID, **changes}


def claims(**changes) -> dict:
    now = int(time.time())
    values = {
        "iss": "latch",
        "aud": "latch",
        "sub": USER_ID,
        "sid": "01a24536-0000-7000-8000-000000000002",
        "jti": "01a24536-0000-7000-8000-000000000003",
        "iat": now,
        "exp": now + 900,
        "email": "carol@example.com",
        "name": None,
        "avatar_url": None,
        "is_superuser": False,
        "is_staff": False,
        "tier": "free",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not ...}  # `...` drops a claim


def call(client, head: dict, body: dict):
    return client.get("/me", headers=bearer(eddsa_token(KEY, head, body)))


def test_a_well_formed_token_from_the_trusted_key_is_accepted(own_keys_client):
    r = call(own_keys_client, header(), claims())
    assert r.status_code == 200, r.text
    assert r.json()["id"] == USER_ID


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_at_jwt_in_its_rfc_9068_forms_is_accepted(own_keys_client, typ):
    assert call(own_keys_client, header(typ=typ), claims()).status_code == 200


@pytest.mark.parametrize("typ", ["JWT", "jwt", "", "at+jwt ", "id_token", 1, None, ...])
def test_any_other_typ_is_401(own_keys_client, typ):
    head = {k: v for k, v in header(typ=typ).items() if v is not ...}
    assert_problem(call(own_keys_client, head, claims()), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
def test_a_missing_required_claim_is_401(own_keys_client, claim):
    assert_problem(call(own_keys_client, header(), claims(**{claim: ...})), 401, "invalid_token")


@pytest.mark.parametrize(
    "changes",
    [{"iss": "someone-else"}, {"aud": "someone-else"}, {"aud": ["someone-else"]}, {"exp": "tomorrow"}],
    ids=["iss", "aud", "aud-list", "exp-not-a-number"],
)
def test_a_wrong_claim_is_401(own_keys_client, changes):
    assert_problem(call(own_keys_client, header(), claims(**changes)), 401, "invalid_token")


def test_an_audience_list_naming_latch_is_accepted(own_keys_client):
    assert call(own_keys_client, header(), claims(aud=["latch", "other"])).status_code == 200


def test_an_expired_token_is_401_token_expired(own_keys_client):
    now = int(time.time())
    r = call(own_keys_client, header(), claims(iat=now - 1000, exp=now - 60))
    assert_problem(r, 401, "token_expired")
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_30_seconds_of_clock_skew_are_allowed(own_keys_client):
    now = int(time.time())
    assert call(own_keys_client, header(), claims(iat=now - 900, exp=now - 20)).status_code == 200
    assert call(own_keys_client, header(), claims(iat=now + 20)).status_code == 200


def test_a_token_not_yet_valid_beyond_the_skew_is_401(own_keys_client):
    now = int(time.time())
    assert_problem(call(own_keys_client, header(), claims(nbf=now + 120)), 401, "invalid_token")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256", "HS256", "Ed25519"])
def test_only_eddsa_is_allowed_in_the_header(own_keys_client, alg):
    r = call(own_keys_client, header(alg=alg), claims())
    if alg == "EdDSA":
        assert r.status_code == 200
    else:
        assert_problem(r, 401, "invalid_token")


def test_a_token_without_kid_is_401(own_keys_client):
    head = {k: v for k, v in header().items() if k != "kid"}
    assert_problem(call(own_keys_client, head, claims()), 401, "invalid_token")


def test_a_non_uuid_subject_is_401(own_keys_client):
    assert_problem(call(own_keys_client, header(), claims(sub="alice")), 401, "invalid_token")
