"""Reading an http(s) URL as a stream, for ``import URL`` (and later build contexts)."""

from __future__ import annotations

from typing import Any, BinaryIO

from dockyard.cli.errors import ClientError


class _ResponseStream:
    """A file-like read() over an httpx streaming response."""

    def __init__(self, response: Any) -> None:
        self._iter = response.iter_bytes(1 << 20)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._iter)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def open_url(url: str) -> tuple[BinaryIO, Any]:
    import httpx

    client = httpx.Client(follow_redirects=True, timeout=60.0)
    try:
        response = client.send(client.build_request("GET", url), stream=True)
    except httpx.HTTPError as exc:
        client.close()
        raise ClientError(f'Get "{url}": {exc}') from None
    if response.status_code >= 400:
        response.close()
        client.close()
        raise ClientError(f'Get "{url}": unexpected status {response.status_code}')

    class _Closer:
        def close(self) -> None:
            response.close()
            client.close()

    return _ResponseStream(response), _Closer()  # type: ignore[return-value]
