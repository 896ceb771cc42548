"""Downstream of the receiver: a push travels to the cluster through Flux's controllers.

A repository on the local Git server (`receiver_conformance.gitserver`) holds one ConfigMap manifest. The
guide's GitRepository points at it (interval 60m: before an hour is up only a reconcile
request makes source-controller fetch) and a Kustomization applies it into the scenario's
namespace. After a new commit the suite plays GitHub: it sends the push event for that commit
to the Receiver's path, then measures how long until source-controller serves the commit as
the GitRepository's artifact and kustomize-controller has applied it, and records both beside
the interval they replace.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from receiver_conformance.config import timing
from receiver_conformance.flux import objects
from receiver_conformance.gitserver import GitServer
from receiver_conformance.kube import Kube, wait_until
from receiver_conformance.scenario import QUIET_PERIOD, Scenario
from receiver_conformance.senders import payloads

SOURCE_API = objects.API_VERSIONS["GitRepository"]
KUSTOMIZE_API = objects.API_VERSIONS["Kustomization"]
GUIDE_SOURCE = "gitrepository-webapp.yaml"
MANIFEST = "configmap.yaml"
FIRST_APPLY_TIMEOUT = 90.0  # the first fetch and apply, controllers warming up
REACTION_TIMEOUT = 60.0  # push event -> revision, and -> applied
# How long a refused push must leave the GitRepository's revision alone. Measured on the
# embedded target, an accepted push is fetched within about 0.15 s (RC_DOWNSTREAM_QUIET_PERIOD).
DOWNSTREAM_QUIET_PERIOD = max(QUIET_PERIOD, timing("RC_DOWNSTREAM_QUIET_PERIOD"))
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def revision(branch: str, sha: str) -> str:
    """A Git artifact's revision as source.toolkit.fluxcd.io/v1 writes it."""
    return f"{branch}@sha1:{sha}"


def duration_seconds(text: str) -> float:
    """A Kubernetes duration such as '60m' or '1h30m' in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def configmap_manifest(name: str, data: Mapping[str, str]) -> str:
    """The manifest the repository holds; the Kustomization gives it its namespace."""
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name}, "data": dict(data)}, sort_keys=False)


def kustomization_object(name: str, namespace: str, source: str, path: str,
                         interval: str = "60m") -> dict[str, Any]:
    """A Kustomization applying `path` of the GitRepository `source` into `namespace`."""
    return {
        "apiVersion": KUSTOMIZE_API, "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"interval": interval, "path": path, "prune": True,
                 "targetNamespace": namespace,
                 "sourceRef": {"kind": "GitRepository", "name": source}},
    }


def push_payload(url: str, branch: str, before: str, after: str, message: str) -> bytes:
    """GitHub's push event for the commit `after` (the example payload, made to match)."""
    event = payloads.load("github-push")
    event.update(ref=f"refs/heads/{branch}", before=before, after=after)
    event["repository"] = {**event["repository"], "clone_url": url, "default_branch": branch}
    event["head_commit"] = {**event["head_commit"], "id": after, "message": message}
    event["commits"] = [{**event["commits"][0], "id": after, "message": message,
                         "modified": [MANIFEST]}]
    return payloads.compact(event)


@dataclass
class Downstream:
    """One scenario's repository, GitRepository and Kustomization, and the push clock."""

    scenario: Scenario
    git: GitServer
    repository: str | None = None  # its name on the Git server
    branch: str = "main"
    configmap: str | None = None
    data: dict[str, str] = field(default_factory=dict)  # the ConfigMap's data, as committed
    commits: list[str] = field(default_factory=list)  # SHAs, oldest first
    source: str | None = None  # the GitRepository
    interval: str = ""  # the GitRepository's interval
    kustomization: str | None = None
    pushed_at: float | None = None  # monotonic time the last push event was sent

    @property
    def kube(self) -> Kube:
        return self.scenario.kube

    @property
    def namespace(self) -> str:
        return self.scenario.namespace

    @property
    def url(self) -> str:
        assert self.repository, "the scenario has no repository yet"
        return self.git.repository_url(self.repository)

    def revision(self, index: int = -1) -> str:
        return revision(self.branch, self.commits[index])

    # -- the repository -----------------------------------------------------------------

    def create_repository(self, name: str, configmap: str, data: Mapping[str, str]) -> None:
        """A repository on the Git server (on the guide's branch) whose first commit holds
        the ConfigMap `configmap`; its name gets a random suffix, as the server is shared."""
        guide = objects.guide_object(GUIDE_SOURCE, self.namespace)
        self.branch = guide["spec"]["ref"]["branch"]
        self.repository = f"{name}-{uuid.uuid4().hex[:8]}"
        self.git.create_repository(self.repository, self.branch)
        self.configmap = configmap
        self.commit(dict(data), "The first revision")

    def commit(self, data: Mapping[str, str], message: str) -> str:
        """Commit the ConfigMap with `data` and push it; the new SHA."""
        assert self.repository and self.configmap, "the scenario has no repository yet"
        self.data = dict(data)
        sha = self.git.commit(self.repository,
                              {MANIFEST: configmap_manifest(self.configmap, self.data)},
                              message, self.branch)
        self.commits.append(sha)
        self.scenario.evidence("commit pushed to the Git server",
                               {"repository": self.url, "revision": self.revision(),
                                "data": self.data})
        return sha

    # -- Flux objects -------------------------------------------------------------------

    def add_git_repository(self, name: str) -> None:
        """The guide's GitRepository, its URL pointing at the scenario's repository."""
        obj = objects.guide_object(GUIDE_SOURCE, self.namespace, name=name)
        obj["spec"]["url"] = self.url
        self.scenario.apply(obj)
        self.scenario.sources.append(("GitRepository", name, self.namespace))
        self.source = name
        self.interval = obj["spec"]["interval"]

    def add_kustomization(self, name: str, source: str, path: str) -> None:
        self.scenario.apply(kustomization_object(name, self.namespace, source, path,
                                                 self.interval or "60m"))
        self.kustomization = name

    def git_repository(self) -> dict[str, Any]:
        assert self.source, "the scenario has no GitRepository"
        return self.kube.get(SOURCE_API, "GitRepository", self.source, self.namespace) or {}

    def artifact_revision(self) -> str | None:
        return ((self.git_repository().get("status") or {}).get("artifact") or {}).get(
            "revision")

    def applied_revision(self) -> str | None:
        assert self.kustomization, "the scenario has no Kustomization"
        obj = self.kube.get(KUSTOMIZE_API, "Kustomization", self.kustomization,
                            self.namespace) or {}
        return (obj.get("status") or {}).get("lastAppliedRevision")

    def configmap_data(self) -> dict[str, str] | None:
        assert self.configmap, "the scenario has no ConfigMap"
        obj = self.kube.get("v1", "ConfigMap", self.configmap, self.namespace)
        return None if obj is None else dict(obj.get("data") or {})

    # -- the push and its effects -------------------------------------------------------

    def send_push(self, variant: str = "valid") -> None:
        """GitHub's push event for the last commit, to the Receiver's path; starts the clock."""
        before = self.commits[-2] if len(self.commits) > 1 else "0" * 40
        body = push_payload(self.url, self.branch, before, self.commits[-1],
                            f"Set {self.configmap} to {self.data}")
        path = self.scenario.webhook_path()
        self.pushed_at = time.monotonic()
        self.scenario.deliver("github", variant, path=path, event="push", payload=body)

    def wait_first_applied(self) -> None:
        """Wait until the first commit is fetched and applied (no push needed: a new
        GitRepository is fetched at once)."""
        self._wait(lambda: self.applied_revision() == self.revision(0), FIRST_APPLY_TIMEOUT,
                   f"Kustomization {self.kustomization} to apply {self.revision(0)}")

    def wait_fetched(self) -> float:
        """Wait until the GitRepository serves the last commit; seconds since the push."""
        return self._since_push("push → revision", self.artifact_revision,
                                f"GitRepository {self.source}'s artifact revision")

    def wait_applied(self) -> float:
        """Wait until the Kustomization has applied the last commit; seconds since the push."""
        return self._since_push("push → applied", self.applied_revision,
                                f"Kustomization {self.kustomization}'s lastAppliedRevision")

    def wait_data(self, data: Mapping[str, str]) -> None:
        self._wait(lambda: self.configmap_data() == dict(data), REACTION_TIMEOUT,
                   f"ConfigMap {self.configmap} to hold {dict(data)}")

    def revision_held(self, expected: str,
                      quiet_period: float = DOWNSTREAM_QUIET_PERIOD) -> dict[str, Any]:
        """Watch the GitRepository for `quiet_period` seconds; what changed, if anything
        (its artifact revision moving off `expected`, or a reconcile request handled)."""
        status = self.git_repository().get("status") or {}
        handled = status.get("lastHandledReconcileAt")
        deadline = time.monotonic() + quiet_period
        while True:
            status = self.git_repository().get("status") or {}
            now = (status.get("artifact") or {}).get("revision")
            changed = {}
            if now != expected:
                changed["artifact revision"] = now
            if status.get("lastHandledReconcileAt") != handled:
                changed["lastHandledReconcileAt"] = status.get("lastHandledReconcileAt")
            if changed or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if changed:
            self.scenario.evidence("GitRepository changed although the push was refused",
                                   changed)
        return changed

    # -- internals ----------------------------------------------------------------------

    def _since_push(self, name: str, observe: Callable[[], str | None], what: str) -> float:
        assert self.pushed_at is not None, "no push event was sent"
        expected = self.revision()
        self._wait(lambda: observe() == expected, REACTION_TIMEOUT, f"{what} to be {expected}",
                   interval=0.05)
        took = time.monotonic() - self.pushed_at
        interval = duration_seconds(self.interval)
        self.scenario.timing(name, took, "the GitRepository's interval", interval)
        return took

    def _wait(self, probe: Callable[[], bool], timeout: float, what: str,
              interval: float = 0.1) -> None:
        try:
            wait_until(probe, timeout, what, interval=interval, describe=self._describe)
        except AssertionError:
            self.scenario.evidence("downstream state observed", self._state())
            if self.scenario.target.log_tail:
                self.scenario.evidence("receiver log (last lines)",
                                       self.scenario.target.log_tail())
            raise

    def _describe(self) -> str:
        state = self._state()
        return (f"artifact {state['GitRepository'].get('artifact')}, applied "
                f"{state['Kustomization'].get('lastAppliedRevision')}")

    def _state(self) -> dict[str, Any]:
        """The GitRepository's and the Kustomization's status, for evidence."""
        def status(api: str, kind: str, name: str | None) -> dict[str, Any]:
            if not name:
                return {}
            obj = self.kube.get(api, kind, name, self.namespace) or {}
            return copy.deepcopy(obj.get("status") or {})

        source = status(SOURCE_API, "GitRepository", self.source)
        artifact = source.get("artifact") or {}
        return {
            "expected": self.revision() if self.commits else None,
            "GitRepository": {"artifact": artifact.get("revision"),
                              "conditions": source.get("conditions")},
            "Kustomization": status(KUSTOMIZE_API, "Kustomization", self.kustomization),
        }
