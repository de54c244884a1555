"""Schemathesis hooks: authenticate every generated request as the run's superuser.

Operations of resource servers (introspection, tiers) take the introspection
client's HTTP Basic credentials; every other operation a bearer token from the
OAuth2 password form of the login route. The token is fetched again every few
seconds, because a generated `logout?scope=global` ends it.
"""

import base64
import os

import requests
import schemathesis

BASE_URL = os.environ["LATCH_URL"]
LOGIN = os.environ["LATCH_ADMIN_LOGIN"]
PASSWORD = os.environ["LATCH_ADMIN_PASSWORD"]
CLIENT = base64.b64encode(
    f"{os.environ['LATCH_CLIENT_ID']}:{os.environ['LATCH_CLIENT_SECRET']}".encode()
).decode()
CLIENT_OPERATIONS = {"/api/v1/auth/introspect", "/api/v1/auth/tiers"}


@schemathesis.auth(refresh_interval=3)
class LatchAuth:
    def get(self, case, ctx):
        response = requests.post(
            f"{BASE_URL}/api/v1/auth/login",
            data={"grant_type": "password", "username": LOGIN, "password": PASSWORD},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        if case.operation.path in CLIENT_OPERATIONS:
            case.headers["Authorization"] = f"Basic {CLIENT}"
        else:
            case.headers["Authorization"] = f"Bearer {data}"
