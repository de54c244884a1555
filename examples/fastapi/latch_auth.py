"""Verifying Latch access tokens in a FastAPI service.

Offline: each request's token is checked against Latch's public keys
(GET /.well-known/jwks.json, fetched and cached by PyJWT's PyJWKClient), with
the same rules Latch applies itself. No call to Latch per request.

Live (optional): `live_caller` also asks Latch's introspection endpoint
(RFC 7662) whether the token's session is still live, so a logout is seen at
once.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import httpx2
import jwt
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

# Latch's own verification rules (docs/tokens.md): one algorithm, a required
# numeric exp, iss and aud checked, typ at+jwt, 30 s of clock skew.
ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}  # RFC 9068 §4, any case
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class LatchSettings:
    """Where Latch is and what its tokens must say."""

    url: str = "http://127.0.0.1:8080"
    issuer: str = "latch"  # Latch's tokens.issuer
    audience: str = "latch"  # Latch's tokens.audience
    jwks_url: str | None = None  # default: {url}/.well-known/jwks.json
    # The introspection client (Latch's introspection.client_id/.client_secret);
    # only `live_caller` needs it.
    client_id: str | None = None
    client_secret: str | None = None
    # A token naming a kid not in the cached key set makes PyJWKClient fetch
    # the set again, at most once per this many seconds.
    jwks_refetch_cooldown_seconds: float = 5.0

    @classmethod
    def from_env(cls) -> LatchSettings:
        env = os.environ
        return cls(
            url=env.get("LATCH_URL", cls.url).rstrip("/"),
            issuer=env.get("LATCH_ISSUER", cls.issuer),
            audience=env.get("LATCH_AUDIENCE", cls.audience),
            jwks_url=env.get("LATCH_JWKS_URL") or None,
            client_id=env.get("LATCH_CLIENT_ID") or None,
            client_secret=env.get("LATCH_CLIENT_SECRET") or None,
            jwks_refetch_cooldown_seconds=float(
                env.get("LATCH_JWKS_REFETCH_COOLDOWN_SECONDS", cls.jwks_refetch_cooldown_seconds)
            ),
        )


@dataclass(frozen=True)
class Caller:
    """The authenticated user, as the access token describes them."""

    id: uuid.UUID
    session_id: str | None
    email: str | None
    name: str | None
    tier: str | None
    is_superuser: bool
    is_staff: bool

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Caller:
        return cls(
            id=uuid.UUID(claims["sub"]),
            session_id=claims.get("sid"),
            email=claims.get("email"),
            name=claims.get("name"),
            tier=claims.get("tier"),
            is_superuser=claims.get("is_superuser") is True,
            is_staff=claims.get("is_staff") is True,
        )


class Problem(Exception):
    """An error answered as application/problem+json, shaped like Latch's."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}


def unauthenticated() -> Problem:
    return Problem(401, "unauthenticated", "Unauthorized",
                   "This route needs an access token.",
                   {"WWW-Authenticate": "Bearer"})


def invalid_token() -> Problem:
    return Problem(401, "invalid_token", "Unauthorized",
                   "The token is invalid or has been revoked.",
                   {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def token_expired() -> Problem:
    return Problem(401, "token_expired", "Unauthorized", "The token has expired.",
                   {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def auth_unavailable() -> Problem:
    return Problem(503, "auth_unavailable", "Service Unavailable",
                   "The authentication service cannot be reached; retry shortly.")


def problem_response(problem: Problem) -> JSONResponse:
    body = {
        "type": f"urn:latch:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    headers = {"Cache-Control": "no-store", **problem.headers}
    return JSONResponse(body, status_code=problem.status, headers=headers,
                        media_type="application/problem+json")


def install_problem_handlers(app) -> None:
    """Answers our errors, and FastAPI's own 404/405/422, as problem+json."""

    async def on_problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    async def on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: ("not_found", "Not Found"), 405: ("method_not_allowed", "Method Not Allowed")}
        code, title = codes.get(exc.status_code, ("error", "Error"))
        return problem_response(Problem(exc.status_code, code, title, str(exc.detail),
                                        dict(exc.headers or {})))

    async def on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else "The request is invalid."
        return problem_response(Problem(422, "validation_failed", "Unprocessable Entity", detail))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)


class LatchVerifier:
    """Checks access tokens against Latch's JWKS, and optionally introspects them."""

    def __init__(self, settings: LatchSettings):
        self.settings = settings
        self.jwks = jwt.PyJWKClient(
            settings.jwks_url or f"{settings.url}/.well-known/jwks.json",
            cache_jwk_set=True,
            lifespan=300,
            timeout=5,
            cooldown_duration=settings.jwks_refetch_cooldown_seconds,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or a 401/503 Problem."""
        try:
            header = jwt.get_unverified_header(token)
            # Cheap header checks first, so junk never triggers a JWKS fetch.
            # decode() below checks alg again, and the signature covers the header.
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
                raise invalid_token()
            if header.get("alg") not in ALGORITHMS or not header.get("kid"):
                raise invalid_token()
            key = self.jwks.get_signing_key(header["kid"])  # refetches on an unknown kid
            return jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise token_expired() from None
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError):
            raise auth_unavailable() from None
        except jwt.PyJWTError:  # bad signature, alg, aud, iss, unknown kid, ...
            raise invalid_token() from None

    def introspect(self, token: str) -> dict[str, Any]:
        """Latch's view of the token right now: {"active": true, ...} or {"active": false}."""
        s = self.settings
        if not (s.client_id and s.client_secret):
            raise auth_unavailable()
        try:
            response = httpx2.post(
                f"{s.url}/api/v1/auth/introspect",
                data={"token": token},
                auth=(s.client_id, s.client_secret),
                timeout=5,
            )
            response.raise_for_status()
            return response.json()
        except httpx2.HTTPError:
            raise auth_unavailable() from None


# FastAPI dependencies. Routes take `caller: CurrentCaller` (any logged-in
# user), `SuperuserCaller` or `LiveCaller`.

bearer_scheme = HTTPBearer(auto_error=False, description="A Latch access token")


def bearer_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    if credentials is None:
        # An Authorization header that is not "Bearer <token>" is a bad token,
        # not a missing one (Latch answers the same).
        if "authorization" in request.headers:
            raise invalid_token()
        raise unauthenticated()
    return credentials.credentials


def verified_claims(request: Request, token: Annotated[str, Depends(bearer_token)]) -> dict[str, Any]:
    verifier: LatchVerifier = request.app.state.latch
    return verifier.verify(token)


def current_caller(claims: Annotated[dict[str, Any], Depends(verified_claims)]) -> Caller:
    """The logged-in user, from a valid access token; 401 otherwise."""
    try:
        return Caller.from_claims(claims)
    except (KeyError, TypeError, ValueError):
        raise invalid_token() from None


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def superuser(caller: CurrentCaller) -> Caller:
    """A logged-in superuser; 403 for anyone else."""
    if not caller.is_superuser:
        raise forbidden("Only superusers may do this.")
    return caller


SuperuserCaller = Annotated[Caller, Depends(superuser)]


def live_caller(
    request: Request,
    token: Annotated[str, Depends(bearer_token)],
    claims: Annotated[dict[str, Any], Depends(verified_claims)],
) -> Caller:
    """As `current_caller`, and Latch confirms the session is still live."""
    verifier: LatchVerifier = request.app.state.latch
    answer = verifier.introspect(token)
    if answer.get("active") is not True or answer.get("sub") != claims["sub"]:
        raise invalid_token()
    # Introspection describes the user as they are now (a superuser demoted
    # since the token was issued is no longer one here).
    try:
        return Caller.from_claims({**claims, **answer})
    except (KeyError, TypeError, ValueError):
        raise invalid_token() from None


LiveCaller = Annotated[Caller, Depends(live_caller)]
