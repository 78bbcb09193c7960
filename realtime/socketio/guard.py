"""The socket.io side of admission, rate limits, slow clients and shutdown.

Kept out of ``namespace.py`` so the namespace stays a thin transport: it calls ``admit`` on
connect, ``allow_message`` before each event, ``release`` on disconnect, and sends through
``socket_outbox``.
"""

import logging
from typing import Any

import socketio

from .. import admission, conf, shutdown
from ..auth import bearer_token
from ..exceptions import Refused
from ..outbox import EngineIOSender, Outbox

logger = logging.getLogger(__name__)


def refusal(refused: Refused) -> socketio.exceptions.ConnectionRefusedError:
    """The socket.io connect error for a refusal.

    socket.io-client's ``connect_error`` gets ``err.message`` (the reason) and ``err.data``
    = ``{"message", "code"}``; the code says what to do (sign in, ask for the permission).
    """
    return socketio.exceptions.ConnectionRefusedError(
        refused.detail, {"message": refused.detail, "code": refused.code}
    )


def client_address(environ: dict) -> str | None:
    """The peer address (engineio's ASGI driver hard-codes REMOTE_ADDR, so use the scope)."""
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else environ.get("REMOTE_ADDR")


async def admit(
    route: str, environ: dict, options: dict[str, str], *, key: str | None, agent: bool
) -> admission.Admission:
    """Admit a socket.io connection or raise ConnectionRefusedError with code and reason.

    ``options``: the query string's, overridden by the ``auth`` payload's (a token in either).
    """
    token = options.get("token") or None
    if token is None:
        auth_header = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1")
        token = bearer_token({b"authorization": auth_header})
    try:
        return await admission.admit(
            route=route,
            address=client_address(environ),
            token=token,
            cookie=environ.get("HTTP_COOKIE"),
            key=key,
            agent=agent,
        )
    except Refused as refused:
        logger.info("Refused socket.io connection to /%s: %s", route, refused.code)
        raise refusal(refused) from None


async def allow_message(server: Any, namespace: str, sid: str, session: Any) -> bool:
    """Apply the connection's rate limit; on a flood, say why and disconnect."""
    admitted = getattr(session, "admission", None)
    if admitted is None:
        return True
    try:
        admitted.limiter.check()
    except Refused as refused:
        session.reply_error(refused)
        if refused.code == "flood":
            await session.transport.outbox.flush(1.0)
            await server.disconnect(sid, namespace=namespace)
        return False
    return True


def socket_outbox(eio_socket: Any) -> Outbox:
    """A bounded outbox feeding one Engine.IO socket; a stuck client's session is closed."""
    sender = EngineIOSender(eio_socket)
    return Outbox(None, conf.get("SEND_QUEUE_SIZE"), send_many=sender, on_stuck=sender.close_stuck)


async def close_for_shutdown(transport: Any) -> None:
    """Flush briefly, then close the Engine.IO session so the client reconnects elsewhere.

    Not a socket.io DISCONNECT packet: socket.io clients do not reconnect after one.
    """
    eio_socket = transport.eio_socket
    await transport.outbox.flush(conf.get("SHUTDOWN_TIMEOUT") / 2)
    if not (eio_socket.closed or eio_socket.closing):
        await eio_socket.close(wait=False, abort=False)


def attach(session: Any, admitted: admission.Admission) -> None:
    """Give a session its user and limits, and let a shutdown reach its transport."""
    session.user = admitted.user
    session.admission = admitted
    shutdown.register(session.transport)


def release(session: Any) -> None:
    """Undo ``attach`` on disconnect."""
    shutdown.unregister(session.transport)
    admitted = getattr(session, "admission", None)
    if admitted is not None:
        admitted.release()
