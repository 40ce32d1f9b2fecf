"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the load benchmark.

A general-purpose client (httpx) spends about a millisecond of its own CPU per request; at one
client that time sits in series with the server's and would be counted as HTTP overhead of the
service. This client only writes a request and reads a Content-Length or chunked response, the way
load tools such as wrk or hey do, so the latency measured is the server's and the network's.
"""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit


class HTTPError(Exception):
    """The connection failed or the server's response could not be read."""


class Connection:
    """One keep-alive connection to a server, reopened after a failure."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._head = f"Host: {self.host}:{self.port}\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """Return the status and body of GET `path`."""
        return await self.request(f"GET {path} HTTP/1.1\r\n{self._head}\r\n".encode())

    async def post_json(self, path: str, payload: object) -> tuple[int, bytes]:
        """Return the status and body of a POST of `payload` as JSON."""
        body = json.dumps(payload).encode()
        head = (f"POST {path} HTTP/1.1\r\n{self._head}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return await self.request(head.encode() + body)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send a prepared request; return the status and body. Raises HTTPError."""
        try:
            return await asyncio.wait_for(self._exchange(raw), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
            await self.close()
            raise HTTPError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writer.write(raw)
        await self._writer.drain()
        status, headers = await self._read_head()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        lines = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return bytes(body)
            body += chunk[:-2]


class HttpxConnection:
    """The same interface over httpx, to show what a general-purpose client adds (--client httpx)."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        import httpx

        self._errors = httpx.HTTPError
        self._client = httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, trust_env=False,
                                         limits=httpx.Limits(max_connections=1))

    async def get(self, path: str) -> tuple[int, bytes]:
        """Return the status and body of GET `path`."""
        return await self._send(self._client.get(path))

    async def post_json(self, path: str, payload: object) -> tuple[int, bytes]:
        """Return the status and body of a POST of `payload` as JSON."""
        return await self._send(self._client.post(path, json=payload))

    async def close(self) -> None:
        """Close the client."""
        await self._client.aclose()

    async def _send(self, pending) -> tuple[int, bytes]:
        try:
            response = await pending
        except self._errors as exc:
            raise HTTPError(f"{type(exc).__name__}: {exc}") from exc
        return response.status_code, response.content


CLIENTS = {"http1": Connection, "httpx": HttpxConnection}
