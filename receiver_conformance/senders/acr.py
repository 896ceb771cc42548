"""Azure Container Registry: a push event (`action`, `target.repository`, `target.tag`)."""

from __future__ import annotations

from typing import Any

from .registry import variants


def _target_as_string(document: dict[str, Any]) -> None:
    document["target"] = "webapp:1.4.2"


VARIANTS = variants("acr-push", _target_as_string)
