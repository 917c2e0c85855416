"""The batching opt-in of an inference script: `batch_predict_fn(batch, model)` in place of predict_fn.

    def batch_predict_fn(batch, model):
        return model.predict(batch)      # one result per request (per row for stacked arrays), in order

Requests are decoded one by one (input_fn or the codecs), their inputs joined into `batch` (see batching.data),
and each request's share of the result goes through output_fn (or the encoder) on its own. An optional
`context` holds the model's system properties only: request headers belong to input_fn and output_fn.

handlers.handlers_from checks it with the other functions (its arguments are in handlers.ARGUMENTS).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from smtoolkit.config.batching import BatchingSettings
from smtoolkit.config.serving import ServingSettings
from smtoolkit.serve.batching.batcher import Batcher
from smtoolkit.serve.context import Context
from smtoolkit.serve.handlers import ARGUMENTS, UserFunction, UserHandlers

logger = logging.getLogger(__name__)

BATCH_PREDICT_FN = "batch_predict_fn"
BATCH_ARGUMENTS: dict[str, tuple[str, ...]] = {BATCH_PREDICT_FN: ARGUMENTS[BATCH_PREDICT_FN]}


def find_batch_predict_fn(namespace: Any, user: UserHandlers) -> UserFunction | None:
    """The script's batch_predict_fn, checked with the other handler functions (handlers.handlers_from)."""
    return user.batch_predict_fn


def batch_predictor(function: UserFunction, model: Any, model_dir: Path, settings: BatchingSettings) -> Batcher:
    """A Batcher calling `function(batch, model)`: what InferenceHandler calls in place of predict_fn."""
    context = Context((), {"model_dir": str(model_dir)})
    return Batcher(
        lambda batch: function(batch, model, context=context),
        function.name,
        settings.max_batch_size,
        settings.max_batch_wait_s,
    )


def warn_if_unused(settings: BatchingSettings, function: UserFunction | None, source: str) -> None:
    """A batching variable set for a script without batch_predict_fn has no effect: say so once at start."""
    batching_set = settings.model_fields_set & BatchingSettings.model_fields.keys()  # ServingSettings has more
    if function is None and batching_set:
        names = ", ".join(f"SAGEMAKER_{name.upper()}" for name in sorted(batching_set))
        logger.warning("%s is set but %s defines no %s: requests are not batched", names, source, BATCH_PREDICT_FN)


def with_batching_concurrency(settings: ServingSettings, function: UserFunction | None, source: str) -> ServingSettings:
    """On the async class a request waiting for its batch holds no thread, so batches fill up to
    SAGEMAKER_MAX_BATCH_SIZE whatever SAGEMAKER_MODEL_SERVER_THREADS says. On gthread a batch gathers the requests
    one worker runs at once: a script with batch_predict_fn gets SAGEMAKER_MAX_BATCH_SIZE threads per worker
    unless SAGEMAKER_MODEL_SERVER_THREADS is set, and a smaller explicit value caps the batches. The sync class
    runs one request at a time, so its batches hold one. What caps batches is said once at start."""
    if function is None:
        return settings
    size, worker_class = settings.max_batch_size, settings.model_server_worker_class
    if worker_class == "sync":
        logger.warning(
            "%s defines %s, but SAGEMAKER_MODEL_SERVER_WORKER_CLASS=sync runs one request at a time per worker: "
            "batches hold one request (use async or gthread)",
            source,
            BATCH_PREDICT_FN,
        )
        return settings
    if worker_class != "gthread":
        return settings
    if "model_server_threads" not in settings.model_fields_set:
        logger.info("%s defines %s: each gthread worker runs up to %d requests at once", source, BATCH_PREDICT_FN, size)
        return settings.model_copy(update={"model_server_threads": size})
    if settings.model_server_threads < size:
        logger.warning(
            "SAGEMAKER_MODEL_SERVER_THREADS=%d caps batches at %d requests on gthread workers "
            "(SAGEMAKER_MAX_BATCH_SIZE=%d)",
            settings.model_server_threads,
            settings.model_server_threads,
            size,
        )
    return settings
