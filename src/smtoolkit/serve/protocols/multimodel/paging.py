"""GET /models, paged: `{"models": [{"modelName", "modelUrl"}], "nextPageToken": ...}`.

The token is the last name of the page, base64url-encoded: the next page starts after it in name order, so
loads and unloads between two calls never repeat or skip a model that stayed loaded.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from smtoolkit.errors import BadRequest

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
TOKEN_PARAMETERS = ("next_page_token", "nextPageToken")


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")


def _after(token: str, parameter: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise BadRequest(f"{parameter}={token!r} is not a token returned by GET /models") from None


def _page_size(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit={raw!r}: expected a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def models_page(models: Sequence[tuple[str, str]], query: Mapping[str, str]) -> dict[str, Any]:
    """The body of GET /models for `models` ((name, url) pairs) and the request's query parameters
    (`limit`, and `next_page_token` or `nextPageToken`)."""
    size = _page_size(query)
    ordered = sorted(models)
    start = 0
    for parameter in TOKEN_PARAMETERS:
        if token := query.get(parameter):
            start = bisect.bisect_right([name for name, _ in ordered], _after(token, parameter))
            break
    page = ordered[start : start + size]
    body: dict[str, Any] = {"models": [{"modelName": name, "modelUrl": url} for name, url in page]}
    if start + size < len(ordered):
        body["nextPageToken"] = _token(page[-1][0])
    return body
