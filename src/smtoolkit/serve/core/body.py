"""Reading a request body within the payload limit, without holding two copies of a large one."""

from __future__ import annotations

from smtoolkit.errors import BadRequest, PayloadTooLarge

READ_CHUNK = 1 << 20
# A body at least this large stays in the buffer it was read into (a bytearray) instead of being copied.
IN_PLACE_BYTES = 64 << 20


class BodyBuffer:
    """Collects a body's chunks: into one preallocated buffer when the length is declared, else a list."""

    def __init__(self, declared: int | None, limit: int | None) -> None:
        self.declared = declared
        self.limit = limit
        self.size = 0
        self._buffer = bytearray(declared) if declared and declared >= IN_PLACE_BYTES else None
        self._chunks: list[bytes] = []

    def add(self, chunk: bytes) -> None:
        end = self.size + len(chunk)
        if self.declared is not None and end > self.declared:
            raise BadRequest(f"the body is longer than the {self.declared} bytes of its Content-Length")
        if self.limit is not None and end > self.limit:
            raise PayloadTooLarge(f"the body is over the limit of {self.limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
        if self._buffer is not None:
            self._buffer[self.size : end] = chunk
        else:
            self._chunks.append(chunk)
        self.size = end

    def remaining(self) -> int | None:
        """Bytes still expected from a declared length (None when the body is chunked)."""
        return None if self.declared is None else self.declared - self.size

    def finish(self) -> bytes:
        if self.declared is not None and self.size < self.declared:
            raise BadRequest(f"the body ended after {self.size} of the {self.declared} bytes of its Content-Length")
        if self._buffer is not None:
            return self._buffer  # type: ignore[return-value]  # bytes-like, read in place (see IN_PLACE_BYTES)
        return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
