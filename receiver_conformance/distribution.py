"""What the installed distribution says of itself: its version, the commit it was built
from when that is known, and its requirements."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from importlib import metadata

from receiver_conformance import versions
from receiver_conformance.paths import CHECKOUT

NAME = "receiver-conformance"
REFERENCE_EXTRA = "reference"
# Labels of `project.urls` that may name the project's repository, most specific first.
REPOSITORY_LABELS = ("repository", "source", "source code", "code", "homepage")


class NotInstalled(Exception):
    """The package runs without its distribution's metadata (not installed)."""


def version() -> str:
    """The installed version, or "unknown" when the package is not installed."""
    try:
        return metadata.version(NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def commit() -> str | None:
    """The commit of the checkout this package runs from ('-dirty' with local changes), or
    the one pip recorded when it installed from a VCS URL; None when neither is known."""
    if CHECKOUT is not None:
        return _checkout_commit()
    try:
        recorded = metadata.distribution(NAME).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        found = json.loads(recorded or "{}").get("vcs_info", {}).get("commit_id")
    except ValueError:
        return None
    return found if isinstance(found, str) else None


def _checkout_commit() -> str | None:
    git = ["git", "-C", str(CHECKOUT)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head or None


def describe() -> str:
    """`receiver-conformance --version`: the suite, its commit, and what it is pinned to."""
    nc = versions.FLUX_MODULES["notification-controller"][1]
    return "\n".join([
        f"receiver-conformance {version()}" + (f" ({found})" if (found := commit()) else ""),
        f"Flux {versions.FLUX_RELEASE} (notification-controller {nc}), "
        f"Kubernetes {versions.KUBERNETES}, Gateway API {versions.GATEWAY_API[1]}",
    ])


def requirements(extra: str) -> list[str]:
    """The requirements that `extra` adds, without their markers (e.g. `aiohttp>=3.9`)."""
    try:
        declared = metadata.requires(NAME) or []
    except metadata.PackageNotFoundError as exc:
        raise NotInstalled(f"{NAME} is not installed; pip install it first") from exc
    wanted = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [req.split(";", 1)[0].strip() for req in declared
            if ";" in req and wanted.search(req.split(";", 1)[1])]


def project_urls() -> dict[str, str]:
    """`project.urls` of pyproject.toml: the checkout's when the package runs from one, else
    the installed distribution's (its Project-URL metadata); {} when there are none."""
    if CHECKOUT is not None:
        try:
            with (CHECKOUT / "pyproject.toml").open("rb") as file:
                urls = tomllib.load(file).get("project", {}).get("urls", {})
        except (OSError, tomllib.TOMLDecodeError):
            return {}
        return {str(label): str(url) for label, url in urls.items()}
    try:
        entries = metadata.metadata(NAME).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, str] = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        if url.strip():
            found[label.strip()] = url.strip()
    return found


def docs_url(page: str) -> str:
    """Where a page of docs/ is read: on GitHub when `project.urls` names the project's
    repository there, else the relative `docs/<page>` (right beside a checkout)."""
    urls = {label.lower(): url for label, url in project_urls().items()}
    for label in REPOSITORY_LABELS:
        url = urls.get(label, "")
        if url.startswith("https://github.com/"):
            return f"{url.rstrip('/').removesuffix('.git')}/blob/main/docs/{page}"
    return f"docs/{page}"
