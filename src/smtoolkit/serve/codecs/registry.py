"""Codecs keyed by media type, and the Content-Type / Accept negotiation that picks them.

A decoder turns a request body (bytes, plus the Content-Type's parameters such as charset) into data; an
encoder turns a prediction into bytes. Decoders raise ValueError for a body they cannot read (a 400);
encoders raise ValueError or TypeError for a prediction they cannot write (a 500).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header, parse_options_header

from smtoolkit.errors import BadRequest, NotAcceptable, ServeError, UnsupportedMediaType, did_you_mean
from smtoolkit.serve.codecs import arrays as arraycodecs
from smtoolkit.serve.codecs import text as textcodecs

Decoder = Callable[[bytes, Mapping[str, str]], Any]
Encoder = Callable[[Any], bytes]


@dataclass(frozen=True)
class MediaType:
    """A parsed Content-Type: the bare, lower-case type and its parameters (charset, ...)."""

    name: str
    params: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def parse(header: str | None) -> MediaType | None:
        """None for a missing or blank header."""
        return _parse_media_type(header) if header and header.strip() else None


@functools.lru_cache(maxsize=256)
def _parse_media_type(header: str) -> MediaType:
    name, params = parse_options_header(header)
    return MediaType(name.strip().lower(), MappingProxyType({key.lower(): value for key, value in params.items()}))


@dataclass(frozen=True)
class Codec:
    media_type: str
    decode: Decoder | None = None
    encode: Encoder | None = None


class CodecRegistry:
    """Codecs by media type; the last one registered for a type wins."""

    def __init__(self, codecs: Iterable[Codec] = ()) -> None:
        self._codecs: dict[str, Codec] = {}
        self._decodable: tuple[str, ...] = ()
        self._encodable: tuple[str, ...] = ()
        self._offers: dict[str, tuple[str, ...]] = {}
        for codec in codecs:
            self.register(codec)

    def register(self, codec: Codec) -> None:
        self._codecs[codec.media_type.lower()] = codec
        self._decodable = tuple(name for name, codec in self._codecs.items() if codec.decode is not None)
        self._encodable = tuple(name for name, codec in self._codecs.items() if codec.encode is not None)
        self._offers.clear()

    @property
    def decodable(self) -> tuple[str, ...]:
        return self._decodable

    @property
    def encodable(self) -> tuple[str, ...]:
        return self._encodable

    def _offered(self, default: str) -> tuple[str, ...]:
        """What negotiation may pick, `default` first (ties go to it)."""
        offered = self._offers.get(default)
        if offered is None:
            offered = self._offers[default] = (default, *(name for name in self._encodable if name != default))
        return offered

    def decode(self, body: bytes, content_type: MediaType | None) -> Any:
        """The body decoded by its Content-Type: 415 for a type without a decoder, 400 for a bad body."""
        codec = self._codecs.get(content_type.name) if content_type else None
        if content_type is None or codec is None or codec.decode is None:
            given = "a missing Content-Type"
            if content_type:
                given = f"Content-Type {content_type.name!r}{_closest_type([content_type.name], self.decodable)}"
            raise UnsupportedMediaType(f"cannot decode {given}; supported: {', '.join(self.decodable)}")
        try:
            return codec.decode(body, content_type.params)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid {content_type.name}: {exc}") from None
        except RecursionError:
            raise BadRequest(f"the body is not valid {content_type.name}: too deeply nested to decode") from None
        except ServeError:
            raise
        except Exception as exc:  # whatever a decoder raises on a body it cannot take is the body's fault: a 400
            reason = f"{type(exc).__name__}: {exc}"
            raise BadRequest(f"the body is not valid {content_type.name}: {reason}") from None

    def encode(self, data: Any, media_type: str) -> bytes:
        """The prediction encoded as `media_type` (one `negotiate` chose); a 500 when it cannot be."""
        codec = self._codecs.get(media_type)
        if codec is None or codec.encode is None:
            raise NotAcceptable(f"cannot encode {media_type}; available: {', '.join(self.encodable)}")
        try:
            return codec.encode(data)
        except (TypeError, ValueError) as exc:
            raise ServeError(f"the prediction cannot be encoded as {media_type}: {exc}") from exc

    def negotiate(self, accept: str | None, default: str) -> str:
        """The encodable type the Accept header prefers; `default` for no Accept or */*; 406 for none."""
        if not accept or not accept.strip():
            return default
        offered = self._offered(default)
        match = _best_match(accept, offered)
        if match is None:
            hint = _closest_type([name for name, quality in _entries(accept) if quality > 0], offered)
            raise NotAcceptable(f"cannot produce any of Accept {accept!r}{hint}; available: {', '.join(offered)}")
        return match

    def preferred(self, accept: str | None, default: str) -> str:
        """For a user's output_fn: the concrete type the client ranks first, whether or not a codec has it.

        Wildcards alone resolve as `negotiate` does. Ties in quality go to the earlier entry.
        """
        concrete = [(name, quality) for name, quality in _entries(accept) if "*" not in name and quality > 0]
        if concrete:
            return max(concrete, key=lambda entry: entry[1])[0]
        return self.negotiate(accept, default)


def _closest_type(names: Iterable[str], choices: tuple[str, ...]) -> str:
    """' (did you mean X?)' for the first of `names` that is a typo of one of `choices`, else ''."""
    for name in names:
        close = [choice for choice in choices if _is_typo_of(name, choice)]
        if close:
            return did_you_mean(name, close)
    return ""


def _is_typo_of(name: str, choice: str) -> bool:
    """One half (type or subtype) the same and the other close: compared whole, the 'application/' they share
    alone would make application/xml 'close' to application/x-npz."""
    top, _, sub = name.partition("/")
    choice_top, _, choice_sub = choice.partition("/")
    if top == choice_top:
        return bool(did_you_mean(sub, [choice_sub]))
    return sub == choice_sub and bool(did_you_mean(top, [choice_top]))


def _entries(accept: str | None) -> list[tuple[str, float]]:
    """Accept's entries, best first (ties in the client's order), as bare lower-case types without parameters."""
    entries = []
    for value, quality in parse_accept_header(accept or ""):
        name = parse_options_header(value)[0].strip().lower()
        if name:
            entries.append((name, float(quality)))
    return entries


def parse_accept(accept: str | None) -> MIMEAccept:
    return MIMEAccept(_entries(accept))


@functools.lru_cache(maxsize=256)
def _best_match(accept: str, offered: tuple[str, ...]) -> str | None:
    """Cached: clients send the same few Accept headers over and over."""
    if accept in offered:  # one bare media type, the usual case
        return accept
    return parse_accept(accept).best_match(offered)


def default_codecs() -> CodecRegistry:
    """A new registry with the built-in codecs (application/json first, the usual default Accept)."""
    return CodecRegistry(
        [
            Codec("application/json", textcodecs.decode_json, textcodecs.encode_json),
            Codec("text/csv", textcodecs.decode_csv, textcodecs.encode_csv),
            Codec("application/jsonlines", textcodecs.decode_jsonlines, textcodecs.encode_jsonlines),
            Codec("text/plain", textcodecs.decode_text, textcodecs.encode_text),
            Codec("application/x-npy", arraycodecs.decode_npy, arraycodecs.encode_npy),
            Codec("application/x-npz", arraycodecs.decode_npz, arraycodecs.encode_npz),
            Codec(
                "application/x-recordio-protobuf",
                arraycodecs.decode_recordio_protobuf,
                arraycodecs.encode_recordio_protobuf,
            ),
        ]
    )
