"""HTTP endpoints of the realtime app: a token for the signed-in user."""

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import conf
from .auth import issue_token

logger = logging.getLogger(__name__)


@never_cache
@require_http_methods(["GET", "POST"])
def token(request: HttpRequest) -> JsonResponse:
    """``/realtime/token``: a signed token for the session's user (401 when signed out).

    For clients that cannot send the session cookie (another origin, a native app): pass it
    as socket.io ``auth: {token}`` or ``?token=`` on either transport's URL. Same-origin
    pages need no token; the session cookie is enough.
    """
    if not request.user.is_authenticated:
        return JsonResponse(
            {"code": 401, "message": "Sign in first (e.g. /admin/login/).", "data": None},
            status=401,
        )
    max_age = int(conf.get("TOKEN_MAX_AGE"))
    data = {"token": issue_token(request.user, max_age), "expires_in": max_age}
    return JsonResponse({"code": 200, "message": "ok", "data": data})
