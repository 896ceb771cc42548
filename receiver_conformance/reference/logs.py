"""Logging in Flux's two encodings: JSON lines (default) or console text.

Every line, whoever logs it (ours, aiohttp, kubernetes_asyncio, asyncio, warnings, an
uncaught exception), passes `reference.redact` after formatting its parts: no token and no
full hook path reaches the output, not even inside a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

from aiohttp.http_exceptions import HttpProcessingError

from .redact import redact

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR,
          "warn": logging.WARNING, "trace": logging.DEBUG}
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    """One JSON object a line: level, ts, logger, msg, any `extra` fields, all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname.lower(),
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[redact(key)] = redact(value if isinstance(value, str) else str(value))
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry)


class WithoutRequestBytes(logging.Filter):
    """aiohttp's parser errors quote up to 100 raw bytes of the request (a token cut short
    escapes any redaction): log the error's kind alone, without the quote or a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.getMessage()}: malformed request ({type(exc).__name__})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


class ConsoleFormatter(logging.Formatter):
    """Text lines, redacted as a whole (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(level: str = "info", encoding: str = "json") -> None:
    """Send the root logger to stderr at `level` in `encoding` (json or console)."""
    handler = logging.StreamHandler(sys.stderr)
    if encoding == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(ConsoleFormatter("%(asctime)s %(levelname)-5s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # Libraries log through the root handler only: none keeps a handler of its own.
    for name in ("aiohttp", "kubernetes_asyncio", "asyncio", "urllib3"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.getLogger("aiohttp.server").addFilter(WithoutRequestBytes())
    # The access log has nothing Flux logs; the server logs its own answers.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_exception
    sys.unraisablehook = _log_unraisable


_uncaught = logging.getLogger("reference.uncaught")


def _log_uncaught(kind: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
    _uncaught.error("uncaught exception", exc_info=(kind, exc, tb))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _uncaught.error("uncaught exception in thread %s", getattr(args.thread, "name", "?"),
                        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _log_unraisable(args: sys.UnraisableHookArgs) -> None:
    exc = args.exc_value
    _uncaught.error("unraisable exception: %s", args.err_msg or "",
                    exc_info=(args.exc_type, exc, args.exc_traceback) if exc else None)
