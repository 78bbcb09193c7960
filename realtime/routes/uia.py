"""The uia route: element-pick requests to picker agents, their answers to every uia client."""

import logging
from typing import Any

from .. import conf, groups, publish
from ..exceptions import InvalidMessage, NoAgent
from .base import Route

logger = logging.getLogger(__name__)


class UiaRoute(Route):
    """get_uia in from the front end, uia_info in from agents, uia answers out."""

    name = "uia"
    key_field = "process_id"
    handlers = {("uia", "get_uia"): "get_uia", ("uia", "uia_info"): "uia_info"}
    actions = {"get_uia": "request", "uia_info": "agent"}

    async def get_uia(self, session: Any, data: dict[str, Any]) -> None:
        """Forward the pick request to every connected agent, or tell the asker none is there."""
        key = self.key_of(data)
        request = {"topic": "uia", "msg": "get_uia", self.key_field: key}
        taken = await session.hub.ask_agents(
            groups.agents_group(), request, conf.get("AGENT_ACK_TIMEOUT")
        )
        if not taken:
            raise NoAgent(
                "No UI-automation picker agent is connected: start the agent "
                "(it connects to the uia route with role=agent) and ask again."
            )

    async def uia_info(self, session: Any, data: dict[str, Any]) -> None:
        """An agent's answer: broadcast it to every uia client as PROTOCOL.md shows."""
        if not session.is_agent:
            raise InvalidMessage(
                "Only a picker agent may send uia_info; agents connect with role=agent.",
                code="not_agent",
            )
        key = self.key_of(data)
        message = data.get("message")
        if not isinstance(message, dict):
            raise InvalidMessage("Field 'message' must be a JSON object.", code="bad_field")
        await publish.apublish(self.name, "uia", message, key=key)
