"""Starts a real Latch for the test session and signs users up on it.

The binary comes from $LATCH_BIN. Latch runs on a free loopback port with a
temporary data dir (SQLite), no config overlay, no rate limits, and a key ring
re-read every second so a rotation lands quickly.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from app import create_app
from tests.helpers import CLIENT_ID, CLIENT_SECRET, free_port, settings_for

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "violet-harbor-quantum-9"

# PyJWKClient fetches the JWKS with urllib, which honours proxy variables: the
# tests talk to loopback only.
for _name in PROXY_VARIABLES:
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)


def pytest_configure(config):
    binary = os.environ.get("LATCH_BIN")
    if not binary:
        raise pytest.UsageError(
            "LATCH_BIN is not set: point it at a Latch binary "
            "(cargo build -p latch --bin latch, then LATCH_BIN=target/debug/latch)."
        )
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise pytest.UsageError(f"LATCH_BIN={binary} is not an executable file.")


@dataclass
class Session:
    """One logged-in user: their id and tokens."""

    user_id: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Latch:
    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_dir = workdir / "config"  # empty: no {LATCH_ENV}.toml overlay is read
        config_dir.mkdir()
        self.log_path = workdir / "latch.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.upper().startswith("LATCH") and k.lower() not in PROXY_VARIABLES
        }
        env.update(
            LATCH_CONFIG_DIR=str(config_dir),
            LATCH__DATA_DIR=str(workdir / "data"),
            LATCH__HTTP__PORT=str(self.port),
            LATCH__LOG__LEVEL="warn",
            LATCH__RATE_LIMIT__ENABLED="false",
            LATCH__KEYS__RELOAD_SECONDS="1",
            # A rotated key is published this long before it signs (default 60 s).
            LATCH__KEYS__PUBLISH_AHEAD_SECONDS="2",
            LATCH__INTROSPECTION__CLIENT_ID=CLIENT_ID,
            LATCH__INTROSPECTION__CLIENT_SECRET=CLIENT_SECRET,
        )
        self.env = env
        self.http = httpx2.Client(base_url=self.url, trust_env=False, timeout=10)
        self.process: subprocess.Popen | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Runs a `latch` command against the same database."""
        done = subprocess.run(
            [self.binary, *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"latch {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def start(self) -> None:
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Latch exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Latch did not answer /healthz within 30 s:\n{self.log()}")

    def stop(self) -> None:
        self.http.close()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signup(self, email: str, password: str) -> str:
        r = self.http.post("/api/v1/auth/signup", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def login(self, email: str, password: str) -> Session:
        r = self.http.post("/api/v1/auth/login", json={"login": email, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
        return Session(body["user"]["id"], body["access_token"], body["refresh_token"])


@pytest.fixture(scope="session")
def latch(tmp_path_factory):
    server = Latch(os.environ["LATCH_BIN"], tmp_path_factory.mktemp("latch"))
    # The superuser is made before the server starts, on the same SQLite file.
    server.cli("create-superuser", "--email", ADMIN_EMAIL, stdin=ADMIN_PASSWORD + "\n")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(latch):
    """The example app, configured like a deployment next to this Latch."""
    with TestClient(create_app(settings_for(latch))) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def alice(latch) -> Session:
    latch.signup("alice@example.com", "plum-orbit-canvas-71")
    return latch.login("alice@example.com", "plum-orbit-canvas-71")


@pytest.fixture(scope="session")
def bob(latch) -> Session:
    latch.signup("bob@example.com", "tidal-marble-fennel-38")
    return latch.login("bob@example.com", "tidal-marble-fennel-38")


@pytest.fixture(scope="session")
def admin(latch) -> Session:
    return latch.login(ADMIN_EMAIL, ADMIN_PASSWORD)
