"""The routes, by name: the one place route logic lives, for every transport."""

from ..exceptions import InvalidMessage
from .base import Route
from .running_logger import RunningLoggerRoute
from .uia import UiaRoute

ROUTES: dict[str, Route] = {route.name: route for route in (RunningLoggerRoute(), UiaRoute())}


def get_route(name: str) -> Route:
    """Return the route called ``name`` or raise InvalidMessage listing the known ones."""
    try:
        return ROUTES[name]
    except KeyError:
        raise InvalidMessage(
            f"Unknown route {name!r}; known routes: {', '.join(ROUTES)}.", code="unknown_topic"
        ) from None


__all__ = ["ROUTES", "Route", "get_route"]
