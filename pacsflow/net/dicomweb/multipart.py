"""Reading a ``multipart/related`` HTTP body part by part, each part's bytes streamed out.

A part is copied by its ``Content-Length`` when the server gives one (Orthanc
does), else up to the next boundary; nothing is held in memory beyond one
read buffer. The body must end with the closing boundary: a body that ends
before it was cut short, however many parts came.
"""

from __future__ import annotations

import email.message
import email.parser
from collections.abc import Iterator
from typing import Protocol

__all__ = ["MultipartCutShortError", "MultipartError", "PartReader", "boundary_of", "parts"]

_CHUNK = 1 << 20
_MAX_HEADER_LINE = 8192


class MultipartError(ValueError):
    """The body is not the multipart/related body it claims to be."""


class MultipartCutShortError(MultipartError):
    """The body ended before its closing boundary."""


class _Readable(Protocol):
    def read(self, amount: int, /) -> bytes: ...


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a ``multipart/related`` Content-Type.

    Raises:
        MultipartError: not multipart/related, or no boundary.
    """
    message = email.message.Message()
    message["Content-Type"] = content_type
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/related" or not isinstance(boundary, str):
        raise MultipartError(f"expected a multipart/related body, got {content_type!r}")
    return boundary


class PartReader:
    """A buffered reader over the body, with the reads the multipart format needs."""

    def __init__(self, body: _Readable) -> None:
        self._body = body
        self._buffer = bytearray()
        self._ended = False

    def _fill(self) -> bool:
        """Read more into the buffer; False at the end of the body."""
        if self._ended:
            return False
        chunk = self._body.read(_CHUNK)
        if not chunk:
            self._ended = True
            return False
        self._buffer += chunk
        return True

    def readline(self) -> bytes:
        """One line with its CRLF (or what is left at the end of the body)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > _MAX_HEADER_LINE:
                raise MultipartError("a multipart header line is too long")
            if not self._fill():
                line = bytes(self._buffer)
                self._buffer.clear()
                return line

    def exactly(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes, in chunks.

        Raises:
            MultipartCutShortError: the body ended first.
        """
        left = size
        if self._buffer:
            chunk = bytes(self._buffer[:left])
            del self._buffer[: len(chunk)]
            left -= len(chunk)
            yield chunk
        while left:  # straight from the body: no copy through the buffer
            chunk = b"" if self._ended else self._body.read(min(left, _CHUNK))
            if not chunk:
                self._ended = True
                raise MultipartCutShortError(f"a part ended {left} bytes short")
            left -= len(chunk)
            yield chunk

    def until(self, delimiter: bytes) -> Iterator[bytes]:
        """The bytes before ``delimiter``, in chunks; the delimiter itself is consumed.

        Raises:
            MultipartCutShortError: the body ended before the delimiter.
        """
        keep = len(delimiter) - 1
        while True:
            found = self._buffer.find(delimiter)
            if found >= 0:
                chunk = bytes(self._buffer[:found])
                del self._buffer[: found + len(delimiter)]
                if chunk:
                    yield chunk
                return
            if len(self._buffer) > keep:
                chunk = bytes(self._buffer[: len(self._buffer) - keep])
                del self._buffer[: len(chunk)]
                yield chunk
            if not self._fill():
                raise MultipartCutShortError("the body ended inside a part")


def _headers(reader: PartReader) -> email.message.Message:
    lines: list[bytes] = []
    while True:
        line = reader.readline()
        if not line:
            raise MultipartCutShortError("the body ended inside a part's headers")
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line)
    return email.parser.BytesHeaderParser().parsebytes(b"".join(lines))


def parts(
    body: _Readable, boundary: str
) -> Iterator[tuple[email.message.Message, Iterator[bytes]]]:
    """Each part's headers and its content (an iterator to drain before the next part).

    Raises:
        MultipartCutShortError: the body ended before the closing boundary.
        MultipartError: a malformed body.
    """
    reader = PartReader(body)
    dash = b"--" + boundary.encode("ascii")
    while True:  # the preamble, up to the first boundary
        line = reader.readline()
        if not line:
            raise MultipartCutShortError("the body ended before its first boundary")
        stripped = line.rstrip(b"\r\n \t")
        if stripped == dash + b"--":
            return
        if stripped == dash:
            break
    while True:
        headers = _headers(reader)
        length = headers.get("Content-Length")
        if length is not None and length.strip().isdigit():
            yield headers, reader.exactly(int(length))
            line = reader.readline()
            if line.strip():
                raise MultipartError("a part is longer than its Content-Length")
            line = reader.readline()
        else:
            yield headers, reader.until(b"\r\n" + dash)
            line = dash + reader.readline()
        stripped = line.rstrip(b"\r\n \t")
        if stripped == dash + b"--":
            return
        if stripped != dash:
            if not line:
                raise MultipartCutShortError("the body ended before its closing boundary")
            raise MultipartError("a part is not followed by a boundary")
