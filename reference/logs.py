"""Logging in Flux's two encodings: JSON lines (default) or console text."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR,
          "warn": logging.WARNING, "trace": logging.DEBUG}
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


_HOOK_PATH = re.compile(r"(/hook/[0-9a-fA-F]{8})[0-9a-fA-F]+")


class RedactHookPaths(logging.Filter):
    """Shorten any hook path in a log line to its first 8 hex characters, whoever logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _HOOK_PATH.sub(r"\1…", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object a line: level, ts, logger, msg, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname.lower(),
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup(level: str = "info", encoding: str = "json") -> None:
    """Send the root logger to stderr at `level` in `encoding` (json or console)."""
    handler = logging.StreamHandler(sys.stderr)
    if encoding == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-5s %(name)s %(message)s")
        )
    handler.addFilter(RedactHookPaths())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # aiohttp's access log would print full hook paths; keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
