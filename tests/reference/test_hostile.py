"""Hostile clients against the webhook server on a real socket: answers, never crashes or hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from receiver_conformance.reference import api
from receiver_conformance.reference.server import Limits, ReceiverServer

from .server_support import TOKEN, StubAnnotator, index_with, receiver_object, stub_senders

pytestmark = pytest.mark.asyncio

HEADER_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
PATH = api.webhook_path(TOKEN, "hook", "apps")


@pytest_asyncio.fixture
async def address() -> AsyncIterator[tuple[str, int]]:
    limits = Limits(header_timeout=HEADER_TIMEOUT, read_timeout=READ_TIMEOUT)
    server = ReceiverServer(index_with(receiver_object()), stub_senders, StubAnnotator(),
                            limits=limits)
    bound = await server.start("127.0.0.1", 0)
    try:
        yield bound
    finally:
        await server.stop()


async def exchange(address: tuple[str, int], raw: bytes, close_write: bool = False,
                   wait: float = 5.0) -> bytes:
    """Send raw bytes, then read until the server closes the connection (or `wait` passes)."""
    reader, writer = await asyncio.open_connection(*address)
    received = b""
    try:
        writer.write(raw)
        await writer.drain()
        if close_write:
            writer.write_eof()
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                received += chunk
    except ConnectionResetError:
        pass  # refused while we were still sending: what arrived before the reset counts
    finally:
        writer.close()
    return received


def request(body: bytes, content_length: int | None = None, extra: str = "") -> bytes:
    length = len(body) if content_length is None else content_length
    head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Token: {TOKEN.decode()}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n{extra}\r\n")
    return head.encode() + body


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b'{"ok": true}', 200, id="control"),
        pytest.param(b'{"ref": "\xff\xfe\xfd"}', 400, id="non-utf8"),
        pytest.param(b'{"ref": ', 400, id="invalid-json"),
        pytest.param(b"\x00" * 1000, 400, id="nul-bytes"),
    ],
)
async def test_bad_bodies_are_400(address: tuple[str, int], body: bytes, expected: int) -> None:
    assert status_of(await exchange(address, request(body))) == expected


async def test_truncated_body_gets_an_answer_or_a_close(address: tuple[str, int]) -> None:
    """Content-Length promises more than is sent, then the client stops writing."""
    response = await exchange(address, request(b'{"a": 1', content_length=100), close_write=True)
    assert status_of(response) in (0, 400)  # 0: closed without an answer
    # ...and the server still serves the next client.
    assert status_of(await exchange(address, request(b"{}"))) == 200


@pytest.mark.parametrize("size", [300 * 1024, 2 * 1024 * 1024])
async def test_oversized_header_is_refused(address: tuple[str, int], size: int) -> None:
    response = await exchange(address, request(b"{}", extra=f"X-Big: {'a' * size}\r\n"))
    assert status_of(response) in (400, 431)
    assert status_of(await exchange(address, request(b"{}"))) == 200


async def test_header_of_200_kib_is_accepted(address: tuple[str, int]) -> None:
    response = await exchange(address, request(b"{}", extra=f"X-Big: {'a' * 200 * 1024}\r\n"))
    assert status_of(response) == 200


async def test_garbage_request_line(address: tuple[str, int]) -> None:
    assert status_of(await exchange(address, b"\x16\x03\x01 not http\r\n\r\n")) == 400


async def test_client_that_stops_sending_headers_is_closed(address: tuple[str, int]) -> None:
    began = time.monotonic()
    response = await exchange(address, f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode())
    elapsed = time.monotonic() - began
    assert status_of(response) == 0
    assert HEADER_TIMEOUT * 0.8 <= elapsed < HEADER_TIMEOUT + 2


async def test_client_that_connects_and_says_nothing_is_closed(address: tuple[str, int]) -> None:
    began = time.monotonic()
    assert await exchange(address, b"") == b""
    assert time.monotonic() - began < HEADER_TIMEOUT + 2


async def test_client_that_stops_sending_the_body_is_cut_off(address: tuple[str, int]) -> None:
    began = time.monotonic()
    response = await exchange(address, request(b'{"a":', content_length=1000))
    elapsed = time.monotonic() - began
    assert status_of(response) in (0, 400)
    assert READ_TIMEOUT * 0.8 <= elapsed < READ_TIMEOUT + 2


async def test_slow_drip_body_is_cut_off_at_the_read_timeout(address: tuple[str, int]) -> None:
    """A byte every 100 ms never finishes: the whole-request deadline ends it."""
    reader, writer = await asyncio.open_connection(*address)
    began = time.monotonic()
    try:
        writer.write(request(b"", content_length=10_000))
        closed = False
        for _ in range(100):
            try:
                writer.write(b"x")
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            if reader.at_eof() or (await _readable(reader)):
                closed = True
                break
            await asyncio.sleep(0.1)
        assert closed
    finally:
        writer.close()
    assert time.monotonic() - began < READ_TIMEOUT + 2


async def _readable(reader: asyncio.StreamReader) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1024), 0.01)
    except TimeoutError:
        return False
    return data == b"" or data.startswith(b"HTTP/1.1 ")


async def test_defaults_are_flux_limits() -> None:
    limits = Limits()
    assert (limits.max_body_bytes, limits.max_header_bytes) == (3 * 1024 * 1024, 256 * 1024)
    assert (limits.header_timeout, limits.read_timeout) == (10.0, 30.0)


async def test_many_headers_over_256_kib_together_are_431(address: tuple[str, int]) -> None:
    many = "".join(f"X-Part-{i}: {'b' * 60 * 1024}\r\n" for i in range(6))  # 360 KiB
    assert status_of(await exchange(address, request(b"{}", extra=many))) == 431
    assert status_of(await exchange(address, request(b"{}"))) == 200


def _lines(count: int, size: int) -> str:
    return "".join(f"X-Line-{i}: {'c' * size}\r\n" for i in range(count))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(_lines(129, 8), 200, id="129-small-lines"),
        pytest.param(_lines(2000, 8), 200, id="2000-small-lines"),
        pytest.param(_lines(1, 250 * 1024), 200, id="one-line-of-250-KiB"),
        pytest.param(_lines(1, 300 * 1024), 431, id="one-line-of-300-KiB"),
        pytest.param(_lines(300, 1024), 431, id="300-lines-of-1-KiB"),
        pytest.param(_lines(20000, 8), 431, id="20000-small-lines"),
    ],
)
async def test_headers_are_limited_in_bytes_not_lines(
    address: tuple[str, int], extra: str, expected: int
) -> None:
    """Go's MaxHeaderBytes: any number of lines under 256 KiB, 431 over it, whatever shape."""
    assert status_of(await exchange(address, request(b"{}", extra=extra))) == expected
    assert status_of(await exchange(address, request(b"{}"))) == 200
