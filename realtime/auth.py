"""Who is connecting: a Django session cookie, or a signed expiring token, or nobody.

Tokens are ``TimestampSigner`` signatures of ``{"u": user pk, "m": max age}``: they carry no
secret, expire ``m`` seconds after issue, and stop working when ``SECRET_KEY`` changes or the
user is deactivated. They cannot be revoked one by one (rotate ``SECRET_KEY`` for that).
"""

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core import signing

from . import conf
from .exceptions import NotAuthenticated

logger = logging.getLogger(__name__)

SALT = "realtime.token"

# What anonymous connections are admitted as: one for all, as AnonymousUser keeps no state of
# its own (a new one per connection would be 72 bytes more on each, for its whole life).
ANONYMOUS = AnonymousUser()


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def issue_token(user: Any, max_age: int | None = None) -> str:
    """A token that authenticates ``user`` on both transports for ``max_age`` seconds."""
    age = int(max_age if max_age is not None else conf.get("TOKEN_MAX_AGE"))
    return _signer().sign_object({"u": str(user.pk), "m": age}, compress=False)


def user_from_token(token: str) -> Any:
    """The active user a token names; raises NotAuthenticated saying why it is refused."""
    signer = _signer()
    try:
        payload = signer.unsign_object(token)  # the signature first, then its own lifetime
        signer.unsign_object(token, max_age=int(payload["m"]))
        user = get_user_model()._default_manager.get(pk=payload["u"])
    except signing.SignatureExpired:
        raise NotAuthenticated("The token has expired: ask for a new one.", code="token_expired")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotAuthenticated("The token is not valid.", code="bad_token")
    except get_user_model().DoesNotExist:
        raise NotAuthenticated("The token's user no longer exists.", code="bad_token")
    if not user.is_active:
        raise NotAuthenticated("The token's user is inactive.", code="bad_token")
    return user


def _user_from_session(session_key: str) -> Any:
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.utils.crypto import constant_time_compare

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    try:
        user_id, backend_path = store[SESSION_KEY], store[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = load_backend(backend_path).get_user(user_id)
    # As django.contrib.auth.get_user: a password change ends the session's logins.
    hash_getter = getattr(user, "get_session_auth_hash", None)
    if user is None or (
        hash_getter and not constant_time_compare(store.get(HASH_SESSION_KEY, ""), hash_getter())
    ):
        return AnonymousUser()
    return user


def session_key_from_cookie(cookie_header: str) -> str | None:
    """The Django session key in a Cookie header, if any."""
    try:
        cookie = SimpleCookie(cookie_header)
    except CookieError:
        return None
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None else None


def authenticate_sync(token: str | None, cookie_header: str | None) -> Any:
    """The user of a connection (AnonymousUser when allowed); raises NotAuthenticated.

    Runs in a worker thread (it may read sessions and users). A token, when given, is
    authoritative: a bad or expired token is refused even if a session cookie or anonymous
    access would have let the client in.
    """
    if token:
        return user_from_token(token)
    session_key = session_key_from_cookie(cookie_header) if cookie_header else None
    user = _user_from_session(session_key) if session_key else AnonymousUser()
    if user.is_authenticated and user.is_active:
        return user
    if conf.get("ALLOW_ANONYMOUS"):
        return ANONYMOUS
    raise NotAuthenticated(
        "Sign in first: send the Django session cookie, or a token from /realtime/token "
        "(socket.io auth {token}, or ?token= on the URL).",
    )


def bearer_token(headers: dict[bytes, bytes]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header (agents and scripts), if any."""
    value = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
