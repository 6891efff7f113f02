"""Log lines as JSON or text, each with the id of the request it belongs to.

``SYNAPSE_LOG_FORMAT``: ``json`` (one object a line: ``time``, ``level``, ``logger``,
``message``, ``request_id``, ``exception``), ``text``, or ``auto`` (the default): JSON
when standard error is not a terminal (a container, a service manager), text otherwise.
The request id lives in a context variable, so work a request starts in the background (a
streaming answer) logs with the id of that request.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("synapse_request_id", default=None)
NO_REQUEST = "-"
# uvicorn configures these with handlers of its own; they are sent to ours instead.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def current_request_id() -> str | None:
    """The id of the request being served, None outside of any."""
    return REQUEST_ID.get()


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` outside of a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or NO_REQUEST
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get() or NO_REQUEST,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


TEXT_FORMAT = "%(levelname)s %(name)s [%(request_id)s]: %(message)s"


def resolve_format(setting: str) -> str:
    """``json`` or ``text`` for the ``SYNAPSE_LOG_FORMAT`` value ``setting``."""
    if setting == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return setting


def make_handler(log_format: str) -> logging.Handler:
    """A standard-error handler writing ``log_format`` (``json`` or ``text``) lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    json = resolve_format(log_format) == "json"
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(log_format: str, level: str) -> None:
    """Route every log line (the server's own included) through one handler."""
    root = logging.getLogger()
    root.handlers = [make_handler(log_format)]
    root.setLevel(level.upper())
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
