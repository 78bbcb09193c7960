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
