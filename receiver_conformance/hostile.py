"""Hostile clients: malformed raw requests that carry a token and a hook path where an HTTP
parser, a traceback or an access log might quote them."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit


def hostile_requests(path: str, token: str) -> dict[str, bytes]:
    """Raw requests by name; each carries `token` and `path` (both whole) somewhere."""
    header = f"X-Gitlab-Token: {token}\r\n"
    start = f"POST {path} HTTP/1.1\r\n"
    many = "".join(f"X-{i}: {token}{'b' * 1000}\r\n" for i in range(400))
    return {
        "extra words in the request line": f"POST {path} HTTP/1.1 {token}\r\n\r\n".encode(),
        "bad method": f"P@ST {path} HTTP/1.1\r\n{header}\r\n".encode(),
        "bad version": f"POST {path} HTTP/9.x\r\n{header}\r\n".encode(),
        "header without colon": f"{start}X-Token {token}\r\n\r\n".encode(),
        "token as a header line": f"{start}{token}\r\n\r\n".encode(),
        "header of 300 KiB": f"{start}{header}X-Big: {'a' * 300 * 1024}{token}\r\n\r\n".encode(),
        "400 headers of 1 KiB": f"{start}{many}\r\n".encode(),
        "non-UTF-8 path": f"POST {path}\xff\xfe{token} HTTP/1.1\r\n{header}\r\n".encode("latin-1"),
        "token as the path": f"POST /hook/{token} HTTP/1.1\r\n{header}Content-Length: 0\r\n\r\n"
                             .encode(),
        "token in the query": f"POST {path}?token={token} HTTP/1.1\r\nContent-Length: 2\r\n\r\n{{}}"
                              .encode(),
        "truncated body": f"{start}{header}Content-Length: 100\r\n\r\n{{\"a\"".encode(),
        "bad chunk": f"{start}Transfer-Encoding: chunked\r\n\r\nzz{token}\r\n".encode(),
        "negative length": f"{start}{header}Content-Length: -1\r\n\r\n".encode(),
        "control characters": f"POST {path}\x00{token} HTTP/1.1\r\n\r\n".encode(),
    }


def send_raw(base_url: str, raw: bytes, wait: float = 3.0) -> bytes:
    """Send `raw` to the receiver at `base_url` (http or https) and return what came back
    before the server closed or `wait` seconds passed (b"" when reset). The connection stays
    open for writing: aiohttp drops a half-closed request without an answer."""
    url = urlsplit(base_url)
    secure = url.scheme == "https"
    port = url.port or (443 if secure else 80)
    received = b""
    with socket.create_connection((url.hostname or "127.0.0.1", port), timeout=wait) as plain:
        sock: socket.socket = plain
        if secure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # a test client: the answer is what counts
            sock = context.wrap_socket(plain, server_hostname=url.hostname)
        try:
            sock.sendall(raw)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError, ssl.SSLError):
            pass  # what arrived before the reset or the deadline counts
    return received


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.x response, 0 when there is none."""
    parts = response.split(b" ", 2)
    if response.startswith(b"HTTP/1.") and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1])
    return 0
