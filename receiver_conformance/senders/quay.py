"""Quay: a repository push notification (`docker_url`, `updated_tags`)."""

from __future__ import annotations

from typing import Any

from .registry import variants


def _tags_as_string(document: dict[str, Any]) -> None:
    document["updated_tags"] = "1.4.2"


def _tag_as_number(document: dict[str, Any]) -> None:
    document["updated_tags"] = [142]


VARIANTS = variants("quay-push", _tags_as_string, _tag_as_number)
