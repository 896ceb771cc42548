"""YAML files that hold a list of entries (known deviations, release changes, known
disagreements): read, checked for their fields, one clear error otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def load_entries(path: Path, what: str, fields: Sequence[str],
                 error: type[Exception]) -> list[dict[str, Any]]:
    """The mappings of the list in `path`, each holding every one of `fields`; otherwise
    `error` naming the file and the entry (`what` names an entry: "deviation", "change")."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as err:
        reason = " ".join(str(err).split())  # YAML's errors span lines
        raise error(f"cannot read {what}s {path}: {reason}") from None
    if not isinstance(entries, list):
        raise error(f"{path}: expected a list of {what}s")
    for number, entry in enumerate(entries, 1):
        missing = [f for f in fields if not (isinstance(entry, dict) and entry.get(f))]
        if missing:
            raise error(f"{path}: {what} {number} lacks {', '.join(missing)}")
    return entries
