"""Compressed request bodies (gzip, deflate, br) decoded piece by piece, never past the route's size limit.

aiohttp's own decoding is turned off for the collector (`auto_decompress=False` in create_app): its errors
surface as 500s or plain-text 400s from the protocol, and it inflates up to the app-wide `client_max_size`
rather than the route's limit. Here a malformed stream is a `BodyEncodingError` naming the encoding, a body
that inflates past the limit is a `BodyTooLarge` raised as soon as the limit is crossed (a gzip bomb never
costs more than `limit` bytes of output), and an encoding outside `ENCODINGS` is an `UnsupportedEncoding`.
"""

from __future__ import annotations

import zlib
from typing import Final

import brotli

ENCODINGS: Final = ("gzip", "deflate", "br")
"""Content-Encodings the collector decodes (one per body; `identity` or none means plain)."""
MAX_GZIP_MEMBERS: Final = 64
"""Concatenated gzip members accepted in one body: real clients send one; thousands of empty ones only cost CPU."""


class UnsupportedEncoding(ValueError):
    """A Content-Encoding the collector does not decode (415)."""


class BodyEncodingError(ValueError):
    """A body that is not valid data of its Content-Encoding (400)."""


class BodyTooLarge(ValueError):
    """A body that inflates past the route's limit (413)."""


def encoding_of(header: str) -> str | None:
    """The one coding named by a Content-Encoding header: None for plain bodies, UnsupportedEncoding otherwise."""
    name = header.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ENCODINGS:
        return name
    shown = header.strip()[:40]
    raise UnsupportedEncoding(
        f"unsupported Content-Encoding {shown!r}: send the body plain or with one of {', '.join(ENCODINGS)}"
    )


class _Zlib:
    """gzip (possibly several members) or deflate (zlib-wrapped or, as some clients send it, raw)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.inflater: zlib._Decompress | None = None
        self.members = 0

    def _start(self, first_byte: int) -> zlib._Decompress:
        self.members += 1
        if self.members > MAX_GZIP_MEMBERS:
            raise BodyEncodingError(f"malformed gzip body: more than {MAX_GZIP_MEMBERS} gzip members")
        if self.encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # RFC 1950 says deflate is zlib-wrapped (low nibble of the first byte is 8); raw deflate is common too.
        return zlib.decompressobj(zlib.MAX_WBITS if first_byte & 0x0F == 8 else -zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate `data`, returning at most `room` + 1 bytes (one past the room tells the caller it overflowed)."""
        out: list[bytes] = []
        size = 0
        while data:
            if self.inflater is None or self.inflater.eof:
                if self.inflater is not None and self.encoding != "gzip":
                    raise BodyEncodingError(f"malformed {self.encoding} body: data after the end of the stream")
                self.inflater = self._start(data[0])
            piece = self.inflater.decompress(data, room + 1 - size)
            size += len(piece)
            out.append(piece)
            if size > room:
                break
            # What the bound held back waits in unconsumed_tail; what follows a finished member, in unused_data.
            data = self.inflater.unconsumed_tail or (self.inflater.unused_data if self.inflater.eof else b"")
        return b"".join(out)

    def finished(self) -> bool:
        return self.inflater is not None and self.inflater.eof


class _Brotli:
    """br, through the Brotli package's bounded `process`."""

    def __init__(self) -> None:
        self.decoder = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        size = 0
        piece = self.decoder.process(data, output_buffer_limit=room + 1)
        while True:
            size += len(piece)
            out.append(piece)
            if size > room or self.decoder.can_accept_more_data():
                break
            piece = self.decoder.process(b"", output_buffer_limit=room + 1 - size)
        return b"".join(out)

    def finished(self) -> bool:
        return bool(self.decoder.is_finished())


class BodyDecoder:
    """Decodes one compressed body fed in pieces, raising as soon as its output passes `limit` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        self.codec: _Zlib | _Brotli = _Brotli() if encoding == "br" else _Zlib(encoding)

    def feed(self, data: bytes) -> None:
        """Decode the next piece of the body as it arrives."""
        if not data:
            return
        try:
            piece = self.codec.feed(data, self.limit - self.size)
        except (zlib.error, brotli.error) as exc:
            raise BodyEncodingError(f"malformed {self.encoding} body: {exc}") from None
        self.size += len(piece)
        if self.size > self.limit:
            raise BodyTooLarge(f"more than {self.limit} bytes once {self.encoding}-decoded")
        self.parts.append(piece)

    def finish(self) -> bytes:
        """The whole decoded body; a stream that stopped before its end is malformed (an empty body is empty)."""
        if self.parts and not self.codec.finished():
            raise BodyEncodingError(f"malformed {self.encoding} body: the compressed stream is truncated")
        return b"".join(self.parts)
