"""A TCP forwarder that makes the host's kube-apiserver reachable inside the node.

The API server listens on the host's 127.0.0.1 only. This process binds its listening
socket inside the node's network namespace (PORT on every address there: 127.0.0.1 for the
node's programs, the node's address for pods, through the `kubernetes` Service), switches
back to the host's, and forwards every connection to 127.0.0.1:TARGET on the host. TLS
passes through untouched, so the API server's certificate (valid for 127.0.0.1 and the
Service's 10.0.0.1) still matches.

Run as `python -m receiver_conformance.node.apiproxy NETNS_FILE PORT TARGET`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def setns(path: str) -> None:
    """Move this thread into the network namespace of `path`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def listen_inside(netns: str, port: int) -> socket.socket:
    """A listening socket on port `port` inside `netns`; this thread ends where it began."""
    home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        setns(netns)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(128)
    finally:
        setns(f"/proc/self/fd/{home_fd}")
        os.close(home_fd)
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        writer.close()


async def serve(sock: socket.socket, target: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, sock=sock)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    netns, port, target = argv[0], int(argv[1]), int(argv[2])
    sock = listen_inside(netns, port)
    print(f"forwarding port {port} in {netns} to 127.0.0.1:{target}", flush=True)
    asyncio.run(serve(sock, target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
