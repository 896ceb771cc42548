"""The burst steps of features/12: requestedAt read as a time, and each answer matched to a
write stamped between its push's sending and its answer."""

from __future__ import annotations

import pytest

from receiver_conformance.lifecycle import stamp_ns
from receiver_conformance.steps.flags import Answer, Burst, written_in_time

SECOND = 10**9
AT_8_24 = 1796677704 * SECOND  # 2026-12-07T21:08:24Z


@pytest.mark.parametrize(("text", "ns"), [
    ("2026-12-07T21:08:24.123456789Z", AT_8_24 + 123456789),  # the reference's
    ("2026-12-07 21:08:24.1234 +0000 UTC m=+12.345678901", AT_8_24 + 123400000),  # Flux's
    ("2026-12-07 21:08:24 +0100 CET", AT_8_24 - 3600 * SECOND),
    ("2026-12-07T21:08:24+01:00", AT_8_24 - 3600 * SECOND),
    ("2026-12-07T21:08:24Z", AT_8_24),
    ("2026-12-07T21:08:24", None),  # no zone: not a time on any clock
    ("yesterday", None),
])
def test_requested_at_is_read_as_a_time(text: str, ns: int | None) -> None:
    assert stamp_ns(text) == ns


def _stamp(ns: int) -> str:
    seconds, fraction = divmod(ns, SECOND)
    assert seconds == AT_8_24 // SECOND
    return f"2026-12-07T21:08:24.{fraction:09d}Z"


@pytest.mark.parametrize(("sent", "answered", "written", "covered"), [
    (100, 300, [200], True),   # stamped between: covered
    (100, 300, [100], True),   # at the sending itself
    (100, 300, [50], False),   # under way before the push was sent
    (100, 300, [400], False),  # started after the answer
    (100, 300, [50, 400], False),
    (100, 300, [50, 250, 400], True),
])
def test_each_answer_needs_a_write_stamped_between_sending_and_answer(
        sent: int, answered: int, written: list[int], covered: bool) -> None:
    burst = Burst([Answer(200, AT_8_24 + sent, AT_8_24 + answered, None)],
                  [_stamp(AT_8_24 + ns) for ns in written])
    if covered:
        written_in_time(burst, "GitRepository", "webapp")
    else:
        with pytest.raises(AssertionError, match="1 of 1 answered with no write"):
            written_in_time(burst, "GitRepository", "webapp")
