"""Docker Hub: a repository push notification (`push_data.tag`, `repository.repo_url`)."""

from __future__ import annotations

from typing import Any

from .registry import variants


def _tag_as_number(document: dict[str, Any]) -> None:
    document["push_data"]["tag"] = 142


VARIANTS = variants("dockerhub-push", _tag_as_number)
