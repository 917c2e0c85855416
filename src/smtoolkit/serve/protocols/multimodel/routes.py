"""The multi-model contract on the core router (SAGEMAKER_MULTI_MODEL=true), answered by a ModelRegistry:

POST   /models              {"model_name", "url"}: load (409 loaded, 404/400 bad url, 507 over the budget)
GET    /models              paged list (limit, next_page_token or nextPageToken)
GET    /models/{name}       {"modelName", "modelUrl"}; 404 when not loaded
DELETE /models/{name}       unload for every worker; 404 when not loaded
POST   /models/{name}/invoke  exactly /invocations, for that model
POST   /invocations         the model named by X-Amzn-SageMaker-Target-Model (or X-Amzn-Target-Model)
GET    /ping                200: the server is up (models come and go at run time)
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from smtoolkit.errors import BadRequest
from smtoolkit.serve.context import TARGET_MODEL_HEADERS
from smtoolkit.serve.core.messages import Request, Response
from smtoolkit.serve.core.router import Answer, Router
from smtoolkit.serve.protocols.multimodel.bodies import (
    loaded_status,
    model_description,
    parse_load_request,
    unloaded_status,
)
from smtoolkit.serve.protocols.multimodel.paging import models_page
from smtoolkit.serve.protocols.multimodel.registry import ModelRegistry
from smtoolkit.serve.protocols.sagemaker import answer_of, invocation_from


class MultiModelProtocol:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def register(self, router: Router) -> None:
        router.add("GET", "/ping", self.ping, blocking=False)
        router.add("POST", "/models", self.load)
        router.add("GET", "/models", self.list_models)
        router.add("GET", "/models/{name}", self.describe)
        router.add("DELETE", "/models/{name}", self.unload)
        router.add("POST", "/models/{name}/invoke", self.invoke)
        router.add("POST", "/invocations", self.invoke_target)

    def ping(self, request: Request) -> Response:
        return Response(200, [("Content-Type", "text/plain; charset=utf-8")])

    def load(self, request: Request) -> Response:
        wanted = parse_load_request(request.body)
        self.registry.load(wanted.model_name, wanted.url)
        return Response.json(loaded_status(wanted.model_name))

    def list_models(self, request: Request) -> Response:
        models = [(record.name, record.url) for record in self.registry.listed()]
        return Response.json(models_page(models, dict(parse_qsl(request.query))))

    def describe(self, request: Request) -> Response:
        return Response.json(model_description(self.registry.describe(request.path_params["name"])))

    def unload(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.registry.unload(name)
        return Response.json(unloaded_status(name))

    def invoke(self, request: Request) -> Answer:
        return self._invoke(request.path_params["name"], request)

    def invoke_target(self, request: Request) -> Answer:
        for header in TARGET_MODEL_HEADERS:
            if name := request.headers.get(header):
                return self._invoke(name, request)
        raise BadRequest(
            f"a multi-model endpoint needs the model to invoke: POST /models/NAME/invoke, or the "
            f"{TARGET_MODEL_HEADERS[0]} header on /invocations"
        )

    def _invoke(self, name: str, request: Request) -> Answer:
        handler = self.registry.handler(name)
        return answer_of(handler.start_invoke(invocation_from(request, target_model=name)))
