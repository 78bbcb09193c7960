"""One exception hierarchy; each leaf also inherits the built-in a caller would expect."""

from django.core import exceptions as django_exceptions


class RealtimeError(Exception):
    """Base of every error raised by the realtime app."""

    code = "error"


class ImproperlyConfigured(RealtimeError, django_exceptions.ImproperlyConfigured):
    """A setting is missing or wrong; the message names it."""

    code = "improperly_configured"


class InvalidMessage(RealtimeError, ValueError):
    """A client frame cannot be accepted; ``code`` and the message go back in an error frame."""

    code = "invalid_message"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class UnknownKey(InvalidMessage, LookupError):
    """A message names a process instance (or process) that the store does not know."""

    code = "unknown_instance"


class NoAgent(RealtimeError, LookupError):
    """A uia request found no connected picker agent to answer it."""

    code = "no_agent"


class PublishError(RealtimeError, ConnectionError):
    """The channel layer could not take a published message (e.g. Redis is down)."""

    code = "publish_failed"


class Refused(RealtimeError, PermissionError):
    """A connection or a message is not allowed; ``close_code`` is the WebSocket close code."""

    code = "forbidden"
    close_code = 4403

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class NotAuthenticated(Refused):
    """No valid session or token, and anonymous clients are not allowed."""

    code = "not_authenticated"
    close_code = 4401


class Forbidden(Refused):
    """The policy does not let this user do this (follow, control, act as agent)."""

    code = "forbidden"
    close_code = 4403


class TooManyConnections(Refused):
    """The client's address already holds ``MAX_CONNECTIONS_PER_ADDRESS`` connections."""

    code = "too_many_connections"
    close_code = 4429


class ShuttingDown(Refused):
    """The server process is stopping; connect again (to another process)."""

    code = "shutting_down"
    close_code = 1012


class RateLimited(Refused):
    """More client messages per second than ``MAX_MESSAGES_PER_SECOND``; this one was dropped."""

    code = "rate_limited"
    close_code = 4429


class Flooding(RateLimited):
    """The client kept sending past the rate limit (``FLOOD_TOLERANCE``): it is disconnected."""

    code = "flood"


class SlowClient(RealtimeError):
    """The client read nothing for ``STUCK_CLIENT_SECONDS`` while frames waited: disconnected."""

    code = "too_slow"
    close_code = 4408
