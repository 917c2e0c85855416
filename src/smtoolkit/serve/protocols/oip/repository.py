"""The Open Inference Protocol on a multi-model endpoint: every model of the worker's ModelRegistry by its name
(RegistryModels), and the model repository extension (ModelRepository) on the registry's load and unload:

    POST /v2/repository/index                  [{"name", "state": "READY", "reason": ""}] for each loaded model
    POST /v2/repository/models/NAME/load       {"parameters": {"url": PATH}}: POST /models's load; without url,
                                               a model already loaded (loaded in this worker if it was not yet)
    POST /v2/repository/models/NAME/unload     DELETE /models/NAME's unload

The extension's load gives no way to name a model's folder (Triton loads from its own repository folder, or
from the `config` and `file:` parameters), so the folder is the `url` parameter, as in POST /models; `config`
and `file:` are refused rather than ignored. Models here have no versions.
"""

from __future__ import annotations

from typing import Any

from smtoolkit.errors import BadRequest, Conflict, EntryPointError, NotFound
from smtoolkit.serve.core.messages import Request, Response
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.jsonbody import JsonField, check_object, json_object
from smtoolkit.serve.protocols.multimodel.registry import ModelRegistry
from smtoolkit.serve.protocols.oip.models import check_predicts

REPOSITORY = "model_repository"
PARAMETERS = JsonField("parameters", (dict,), "an object")
LOAD_PARAMETERS = (JsonField("url", (str,), "the model folder's absolute path", non_empty=True),)
# A model here has no dependents: accepted, nothing to do.
UNLOAD_PARAMETERS = (JsonField("unload_dependents", (bool,), "true or false"),)
# Every listed model is ready (the store lists a model once it is loaded): "ready" changes nothing.
INDEX_FIELDS = (JsonField("ready", (bool,), "true or false"),)


class RegistryModels:
    """ServedModels over a worker's registry: a model listed for the endpoint but not loaded in this worker yet
    is loaded on demand, as for POST /models/NAME/invoke."""

    instant = False
    extensions: tuple[str, ...] = (REPOSITORY,)

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def handler(self, name: str, version: str | None) -> InferenceHandler:
        handler = self.registry.handler(name)  # NotFound (404) when it is not loaded
        if version is not None:
            raise NotFound(f"model {name!r} has no version {version!r}: models of a multi-model endpoint have none")
        try:
            return check_predicts(handler)
        except EntryPointError as exc:
            raise BadRequest(str(exc)) from None

    def versions(self, name: str) -> list[str]:
        return []

    def server_ready(self) -> bool:
        return True  # models come and go at run time, as for GET /ping


def request_parameters(request: Request, allowed: tuple[JsonField, ...]) -> dict[str, Any]:
    """The `parameters` object of a repository request's JSON body (which may be empty); BadRequest naming a
    malformed body, or an unknown or mistyped parameter."""
    where = f"the body of POST {request.path}"
    document = json_object(request.body, where, (PARAMETERS,), empty_is_object=True)
    return check_object(document.get("parameters", {}), f"parameters in {where}", allowed)


class ModelRepository:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def register(self, router: Router) -> None:
        router.add("POST", "/v2/repository/index", self.index)
        router.add("POST", "/v2/repository/models/{name}/load", self.load)
        router.add("POST", "/v2/repository/models/{name}/unload", self.unload)

    def index(self, request: Request) -> Response:
        json_object(request.body, f"the body of POST {request.path}", INDEX_FIELDS, empty_is_object=True)
        models = [{"name": record.name, "state": "READY", "reason": ""} for record in self.registry.listed()]
        return Response.json(models)

    def load(self, request: Request) -> Response:
        name = request.path_params["name"]
        url = request_parameters(request, LOAD_PARAMETERS).get("url")
        try:
            listed = self.registry.describe(name)
        except NotFound:
            if url is None:
                raise NotFound(
                    f'model {name!r} is not loaded; give its folder: {{"parameters": {{"url": "/path/to/model"}}}}'
                ) from None
            self.registry.load(name, url)
        else:
            if url is not None and url != listed.url:
                raise Conflict(f"model {name!r} is already loaded from {listed.url}; unload it first")
            self.registry.handler(name)  # already loaded: in this worker too from now on
        return Response(200, [("Content-Type", "application/json")], b"")

    def unload(self, request: Request) -> Response:
        request_parameters(request, UNLOAD_PARAMETERS)
        self.registry.unload(request.path_params["name"])
        return Response(200, [("Content-Type", "application/json")], b"")
