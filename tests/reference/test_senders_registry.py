"""`sender_for`: one sender per Receiver type the API accepts."""

from __future__ import annotations

import pytest
import yaml

from receiver_conformance.controlplane.crds import ensure_crds
from receiver_conformance.reference.senders import RECEIVER_TYPES, UnsupportedType, sender_for
from receiver_conformance.reference.senders.google_keys import (
    GOOGLE_CERTS_URL,
    StaticKeySource,
    UrlKeySource,
)


def crd_receiver_types() -> set[str]:
    path = ensure_crds() / "notification.toolkit.fluxcd.io_receivers.yaml"
    crd = yaml.safe_load(path.read_text())
    (v1,) = [version for version in crd["spec"]["versions"] if version["name"] == "v1"]
    return set(v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["type"]["enum"])


def test_every_api_type_is_known() -> None:
    assert crd_receiver_types() == RECEIVER_TYPES


@pytest.mark.parametrize("receiver_type", sorted(RECEIVER_TYPES))
def test_sender_for_each_type(receiver_type: str) -> None:
    sender = sender_for(receiver_type, google_keys=StaticKeySource({"keys": []}))
    assert sender.type == receiver_type


@pytest.mark.parametrize(
    ("receiver_type", "reason"),
    [("GitHub", "unknown"), ("", "unknown"),
     ("bitbucket-cloud", "unknown")],
)
def test_unsupported_types(receiver_type: str, reason: str) -> None:
    with pytest.raises(UnsupportedType, match=reason):
        sender_for(receiver_type)


def test_gcr_uses_one_shared_google_key_cache_by_default() -> None:
    first, second = sender_for("gcr"), sender_for("gcr")
    assert isinstance(first.keys, UrlKeySource)
    assert first.keys is second.keys
    assert first.keys.url == GOOGLE_CERTS_URL
