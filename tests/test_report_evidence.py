"""Evidence kept on the test item, masked of secrets."""

from __future__ import annotations

from typing import Any

import pytest

from receiver_conformance.report import evidence

HOOK = "/hook/" + "0123456789abcdef" * 4
TOKEN = "b1946ac92492d2347c6235b4d2611184"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"POST {HOOK} HTTP/1.1", "POST /hook/01234567… HTTP/1.1"),
        ({"path": HOOK}, {"path": "/hook/01234567…"}),
        ({"X-Gitlab-Token": TOKEN}, {"X-Gitlab-Token": "b1946a… (32 chars)"}),
        ({"Authorization": "Bearer x"}, {"Authorization": "••••••••"}),
        ({"headers": {"X-Hub-Signature-256": "sha256=" + "ab" * 32}},
         {"headers": {"X-Hub-Signature-256": "sha256… (71 chars)"}}),
        ({"stringData": {"token": TOKEN}}, {"stringData": {"token": "b1946a… (32 chars)"}}),
        ({"reason": "TokenNotFound", "status": 404}, {"reason": "TokenNotFound", "status": 404}),
        ([{"webhookPath": HOOK}], [{"webhookPath": "/hook/01234567…"}]),
    ],
)  # fmt: skip
def test_redact(body: Any, expected: Any) -> None:
    assert evidence.redact(body) == expected


def test_attach_keeps_items_in_order(request: pytest.FixtureRequest) -> None:
    evidence.attach(request, "the request sent", b'{"ref": "refs/heads/main"}')
    evidence.attach(request, "the response observed", {"status": 200, "path": HOOK})
    assert evidence.collected(request.node) == [
        {"title": "the request sent", "body": '{"ref": "refs/heads/main"}'},
        {"title": "the response observed", "body": {"status": 200, "path": "/hook/01234567…"}},
    ]


def test_attach_truncates_huge_bodies(request: pytest.FixtureRequest) -> None:
    evidence.attach(request, "a 3 MiB body", "x" * (3 * 1024 * 1024))
    [item] = evidence.collected(request.node)
    assert len(item["body"]) < 25_000
    assert item["body"].endswith("more chars)")


def test_attach_makes_objects_json_ready(request: pytest.FixtureRequest) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    evidence.attach(request, "odd", {"when": Opaque(), "codes": (200, 404)})
    assert evidence.collected(request.node)[0]["body"] == {"when": "opaque", "codes": [200, 404]}
