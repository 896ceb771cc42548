"""Which Secret changes re-reconcile a Receiver at once: --watch-configs-label-selector."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from receiver_conformance.reference import api, selectors
from receiver_conformance.reference.__main__ import options_from
from receiver_conformance.reference.controller import DEFAULT_WATCH_CONFIGS, Controller
from receiver_conformance.reference.index import Index

WATCHED = {"reconcile.fluxcd.io/watch": "Enabled"}


# -- the selector syntax --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        (DEFAULT_WATCH_CONFIGS, WATCHED, True),
        (DEFAULT_WATCH_CONFIGS, {}, False),
        (DEFAULT_WATCH_CONFIGS, {"reconcile.fluxcd.io/watch": "Disabled"}, False),
        ("reconcile.fluxcd.io/watch==Enabled", WATCHED, True),
        ("owner!=helm", {}, True),
        ("owner!=helm", {"owner": "helm"}, False),
        ("owner!=helm", {"owner": "flux"}, True),
        ("tier in (web, api)", {"tier": "api"}, True),
        ("tier in (web,api)", {"tier": "db"}, False),
        ("tier in (web,api)", {}, False),
        ("tier notin (web,api)", {}, True),
        ("tier notin (web,api)", {"tier": "web"}, False),
        ("team", {"team": ""}, True),
        ("team", {}, False),
        ("!team", {}, True),
        ("!team", {"team": "a"}, False),
        ("a=1, b!=2", {"a": "1", "b": "3"}, True),
        ("a=1,b!=2", {"a": "1", "b": "2"}, False),
        ("shard>2", {"shard": "3"}, True),
        ("shard>2", {"shard": "x"}, False),
        ("shard<2", {"shard": "1"}, True),
        ("empty=", {"empty": ""}, True),
        ("", {}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_selector_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert selectors.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    "text", ["a in (", "a in b", "=x", "a=b=c", "a,", "a b", "shard>x", "-a=b", "a=-b", "!a=b"],
)
def test_selector_refuses(text: str) -> None:
    with pytest.raises(selectors.SelectorError):
        selectors.parse(text)


# -- the flag -------------------------------------------------------------------------


def test_the_flag_defaults_to_fluxs_label() -> None:
    options, _ = options_from([])
    assert options.watch_configs_label_selector == "reconcile.fluxcd.io/watch=Enabled"
    options, _ = options_from(["--watch-configs-label-selector", "owner!=helm"])
    assert options.watch_configs_label_selector == "owner!=helm"


def test_a_bad_selector_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        options_from(["--watch-configs-label-selector", "a in ("])
    assert exc.value.code == 2
    assert "--watch-configs-label-selector" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--receiverAddr", "--receiver-addr"])
def test_fluxs_receiver_addr_flag_and_ours(flag: str) -> None:
    options, _ = options_from([flag, "127.0.0.1:9393"])
    assert options.receiver_addr == ("127.0.0.1", 9393)


# -- the controller's Secret events ---------------------------------------------------


def secret(token: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "webhook-token", "namespace": "apps"}
    if labels is not None:
        meta["labels"] = labels
    return {"metadata": meta, "data": {"token": base64.b64encode(token.encode()).decode()}}


def controller(selector: str = DEFAULT_WATCH_CONFIGS) -> Controller:
    """A controller whose index knows one Receiver referencing apps/webhook-token, and the
    Secret's first version (neither watched nor queued)."""
    index = Index()
    index.put(api.Receiver.from_dict({
        "metadata": {"name": "webapp", "namespace": "apps", "uid": "u1"},
        "spec": {"type": "github", "secretRef": {"name": "webhook-token"}, "resources": []},
    }))
    ctl = Controller(None, index, watch_configs=selectors.parse(selector))  # type: ignore[arg-type]
    return ctl


def queued(ctl: Controller) -> set[str]:
    return set(ctl.queue._pending)


@pytest.mark.asyncio
async def test_a_labelled_secret_change_queues_its_receivers() -> None:
    ctl = controller()
    ctl._on_secret_event("MODIFIED", secret("new", WATCHED))
    assert queued(ctl) == {"apps/webapp"}
    assert ctl.index.secret("apps/webhook-token") == {"token": b"new"}


@pytest.mark.asyncio
async def test_an_unlabelled_secret_change_waits_for_the_interval() -> None:
    ctl = controller()
    ctl._on_secret_event("MODIFIED", secret("new"))
    assert queued(ctl) == set()
    # The cache is current all the same: the next reconcile, and the server, read it.
    assert ctl.index.secret("apps/webhook-token") == {"token": b"new"}
    ctl._on_secret_event("DELETED", secret("new"))
    assert queued(ctl) == set()
    assert ctl.index.secret("apps/webhook-token") is None


@pytest.mark.asyncio
async def test_labelling_a_secret_queues_its_receivers_and_deleting_it_too() -> None:
    ctl = controller()
    ctl._on_secret_event("ADDED", secret("tok"))
    assert queued(ctl) == set()
    ctl._on_secret_event("MODIFIED", secret("tok", WATCHED))  # same data, label added
    assert queued(ctl) == {"apps/webapp"}
    ctl.queue._pending.clear()
    ctl._on_secret_event("DELETED", secret("tok", WATCHED))
    assert queued(ctl) == {"apps/webapp"}


@pytest.mark.asyncio
async def test_a_wider_selector_watches_unlabelled_secrets() -> None:
    ctl = controller("owner!=helm")
    ctl._on_secret_event("MODIFIED", secret("new"))
    assert queued(ctl) == {"apps/webapp"}
    ctl.queue._pending.clear()
    ctl._on_secret_event("MODIFIED", secret("newer", {"owner": "helm"}))
    assert queued(ctl) == set()


@pytest.mark.asyncio
async def test_a_secret_gone_during_a_relist_counts_as_deleted_with_its_labels() -> None:
    ctl = controller()
    ctl._on_secret_event("ADDED", secret("tok", WATCHED))
    ctl.queue._pending.clear()
    ctl._on_secrets_listed([])
    assert queued(ctl) == {"apps/webapp"}
    assert ctl.index.secret("apps/webhook-token") is None
