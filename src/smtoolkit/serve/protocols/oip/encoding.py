"""Compressed request bodies (Content-Encoding gzip or deflate, as tritonclient's request_compression_algorithm
sends them), inflated within the body limit so that a small compressed body cannot grow without bound."""

from __future__ import annotations

import zlib

from smtoolkit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

# zlib's wbits for each coding: gzip framing, and zlib framing (what "deflate" means in HTTP).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decoded_body(body: bytes, content_encoding: str | None, limit: int | None) -> bytes:
    """`body` without its Content-Encoding; 415 for a coding we do not read, 400 for a corrupt body, 413 when
    the inflated body passes `limit` bytes."""
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return body
    wbits = _WBITS.get(coding)
    if wbits is None:
        raise UnsupportedMediaType(f"Content-Encoding {content_encoding!r} is not supported; use gzip or deflate")
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1) if limit is not None else inflater.decompress(body)
    except zlib.error as exc:
        raise BadRequest(f"the body is not valid {coding} data: {exc}") from None
    if limit is not None and (len(data) > limit or inflater.unconsumed_tail):
        raise PayloadTooLarge(
            f"the {coding} body inflates past the limit of {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)"
        )
    if not inflater.eof:
        raise BadRequest(f"the {coding} body ends before its compressed data does")
    return data
