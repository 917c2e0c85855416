"""Router: the transport-free app. Protocols (the SageMaker contract, and later others) register routes on it;
an adapter (serve.adapters.wsgi, serve.adapters.asgi) resolves a request's route, reads the body within the limit,
calls it.

A route is `blocking` when it may run user code (which can take long): the async adapter runs those in its
thread pool and the others, such as /ping, on the event loop, so that a slow predict never delays them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from smtoolkit.errors import NotFound, PayloadTooLarge
from smtoolkit.serve.core.errors import MethodNotAllowed, error_response
from smtoolkit.serve.core.messages import Pending, Request, Response

Answer = Response | Pending[Response]
Endpoint = Callable[[Request], Answer]
# How a protocol answers an error: the SageMaker contract's JSON (core.errors) unless it registers its own.
ErrorAnswer = Callable[[BaseException, Request], Response]
_PARAMETER = re.compile(r"\{(\w+)\}")


class ServingProtocol(Protocol):
    """A set of routes served together (one platform's contract)."""

    def register(self, router: Router) -> None: ...


def _compile(path: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(path)  # literal, name, literal, name, ..., literal
    pieces = (re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile("".join(pieces) + r"\Z")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: Endpoint
    blocking: bool = True


@dataclass
class _Pattern:
    regex: re.Pattern[str]
    routes: dict[str, Route] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """A request's route and the values of its path parameters (`/models/{name}` -> {"name": ...})."""

    route: Route
    params: dict[str, str]


class Router:
    """Routes by exact path (then by `{name}` patterns) and method; errors become JSON answers."""

    def __init__(self, body_limit: int | None) -> None:
        self.body_limit = body_limit
        self._exact: dict[str, dict[str, Route]] = {}
        self._patterns: dict[str, _Pattern] = {}
        self._error_answers: list[tuple[str, ErrorAnswer]] = []

    def answer_errors(self, path: str, answer: ErrorAnswer) -> None:
        """Answer errors on `path` (exactly, or under it when it ends with "/") with `answer`: a protocol whose
        clients read another error body than the core's, before its route runs too (404, 405, 413)."""
        self._error_answers.append((path, answer))

    def error_response(self, error: BaseException, request: Request) -> Response:
        """The answer to `error` raised while answering `request`, in the format of the protocol of its path."""
        path = request.path
        for prefix, answer in self._error_answers:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return answer(error, request)
        return error_response(error, request.method, path)

    def mount(self, protocol: ServingProtocol) -> Router:
        protocol.register(self)
        return self

    def add(self, method: str, path: str, endpoint: Endpoint, *, blocking: bool = True) -> None:
        route = Route(method.upper(), path, endpoint, blocking)
        if "{" not in path:
            table = self._exact.setdefault(path, {})
        else:
            table = self._patterns.setdefault(path, _Pattern(_compile(path))).routes
        if route.method in table:
            raise ValueError(f"{route.method} {path} is registered twice")
        table[route.method] = route

    def has(self, method: str, path: str) -> bool:
        """Whether `method path` would reach a route already registered (exactly, or through a pattern)."""
        try:
            self.resolve(method.upper(), path)
        except (NotFound, MethodNotAllowed):
            return False
        return True

    def resolve(self, method: str, path: str) -> Resolved:
        """The route for `method path`; NotFound (404) or MethodNotAllowed (405) when there is none."""
        params: dict[str, str] = {}
        table = self._exact.get(path)
        if table is None:
            for pattern in self._patterns.values():
                if match := pattern.regex.match(path):
                    table, params = pattern.routes, match.groupdict()
                    break
            else:
                raise NotFound(f"no route {path}")
        route = table.get(method)
        if route is None:
            raise MethodNotAllowed(f"{path} takes {', '.join(sorted(table))}, not {method}")
        return Resolved(route, params)

    def check_length(self, declared: int | None) -> None:
        """PayloadTooLarge (413) when a declared Content-Length is over the limit: answered before reading."""
        limit = self.body_limit
        if limit is not None and declared is not None and declared > limit:
            raise PayloadTooLarge(f"the body has {declared} bytes; the limit is {limit} (SAGEMAKER_MAX_PAYLOAD_IN_MB)")

    def call(self, resolved: Resolved, request: Request) -> Answer:
        """The endpoint's answer, or its Pending answer (see `finish`); any error it raises as a JSON answer."""
        request.path_params = resolved.params
        try:
            return resolved.route.endpoint(request)
        except Exception as error:
            return self.error_response(error, request)

    def finish(self, answer: Answer, request: Request) -> Response:
        """The answer itself: a Pending one waited for in this thread; an error it raises as a JSON answer."""
        if isinstance(answer, Response):
            return answer
        try:
            return answer.finish()
        except Exception as error:
            return self.error_response(error, request)

    def complete(self, answer: Pending[Response], value: Any, request: Request) -> Response:
        """A Pending answer made of its source's `value` (awaited by the caller); errors as JSON answers."""
        try:
            return answer.then(value)
        except Exception as error:
            return self.error_response(error, request)

    def handle(self, request: Request) -> Response:
        """Resolve, call and finish in one go (the body already read): for tests and in-process callers."""
        try:
            resolved = self.resolve(request.method, request.path)
        except Exception as error:
            return self.error_response(error, request)
        return self.finish(self.call(resolved, request), request)
