"""ServingSettings: the SAGEMAKER_* variables `serve` honours, typed, each with its documented default.

Read once at the entry point (`load_serving_settings()`) and passed down; nothing here binds or writes.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from smtoolkit import hardware
from smtoolkit.config.batch import VariableSpelling, parse_batch_strategy, variable_spelling
from smtoolkit.config.batching import BatchingSettings
from smtoolkit.config.multimodel import MultiModelSettings
from smtoolkit.config.protocols import ProtocolSettings
from smtoolkit.config.settings import EnvSettings
from smtoolkit.errors import did_you_mean
from smtoolkit.logs import parse_log_level

ENV_PREFIX = "SAGEMAKER_"
DEFAULT_PROGRAM = "inference.py"
MEBIBYTE = 1024 * 1024
# The platform's rule for batch transform: MaxConcurrentTransforms x MaxPayloadInMB <= 100.
MAX_TRANSFORM_BUDGET_MB = 100
# Batch transform sends at most 100 MB; asynchronous inference up to 1 GB.
MAX_PAYLOAD_MB = 1024

BatchStrategy = VariableSpelling
WorkerClass = Literal["async", "sync", "gthread"]
WORKER_CLASS_NAMES: dict[str, WorkerClass] = {
    "async": "async",
    "uvicorn": "async",
    "sync": "sync",
    "gthread": "gthread",
}


def normalise_batch_strategy(value: str) -> str | None:
    """MULTI_RECORD or SINGLE_RECORD from either spelling (the API's MultiRecord too); None otherwise."""
    strategy = parse_batch_strategy(value)
    return None if strategy is None else variable_spelling(strategy)


class ServingSettings(ProtocolSettings, BatchingSettings, MultiModelSettings, EnvSettings):
    """`serve`'s settings. Each field is read from SAGEMAKER_<FIELD NAME> (case-insensitive); an empty value is
    a value (SAGEMAKER_PROGRAM= means the default script). The batching and multi-model fields are declared
    once, in their own classes, and inherited here."""

    env_prefix = ENV_PREFIX
    empty_is_unset = False

    bind_to_port: int = Field(8080, ge=1, le=65535, description="Listen port. Default 8080.")
    bind_to_address: str = Field(
        "0.0.0.0", description="Listen address (smtoolkit's own). Default 0.0.0.0, every interface."
    )
    safe_port_range: tuple[int, int] | None = Field(
        None, description='Ports the container may use besides the listen port, "XXXX-YYYY". Default unset.'
    )
    model_server_workers: int | None = Field(
        None, ge=1, description="Worker processes. Default: the CPUs this process may use (affinity, cgroup)."
    )
    model_server_timeout: int = Field(
        60, ge=1, description="Seconds a worker may spend on one request before it is killed. Default 60."
    )
    model_server_timeout_seconds: int | None = Field(
        None, ge=1, description="Same as MODEL_SERVER_TIMEOUT, and wins when both are set. Default unset."
    )
    model_server_worker_class: WorkerClass = Field(
        "async",
        description="Worker class: async (uvicorn under gunicorn; also `uvicorn`), sync or gthread. Default async.",
    )
    model_server_threads: int = Field(
        1, ge=1, description="Requests a worker runs user code for at once (async, gthread). Default 1."
    )
    model_server_inline_calls: bool = Field(
        True,
        description="Async class: run calls proven fast (under 0.5 ms) on the event loop, sparing a thread "
        "hand-off; a call over 5 ms sends them back to the pool (smtoolkit's own). Default true.",
    )
    model_server_graceful_timeout: int = Field(
        25, ge=0, description="Seconds to finish requests after SIGTERM (smtoolkit's own). Default 25."
    )
    model_server_access_log: bool = Field(
        False,
        description="One access-log line per request on stdout, never for /ping (smtoolkit's own). Default false.",
    )
    preload_model: bool = Field(
        True, description="Load the model once before forking workers; false: in each worker. Default true."
    )
    max_payload_in_mb: int = Field(
        6,
        ge=0,
        le=MAX_PAYLOAD_MB,
        description="Largest request body in MB (MiB), up to 1024 (async inference); 0: no limit. Default 6.",
    )
    max_concurrent_transforms: int | None = Field(
        None,
        ge=0,
        description="MaxConcurrentTransforms for batch; unset or 0: workers x threads. Default unset.",
    )
    batch_strategy: BatchStrategy | None = Field(
        None,
        description="MULTI_RECORD or SINGLE_RECORD (MultiRecord/SingleRecord too). Default MULTI_RECORD.",
    )
    batch: bool = Field(False, description="Set to true by the platform for batch transform. Default false.")
    default_invocations_accept: str = Field(
        "application/json",
        description="Response type when Accept is missing or */*. Default application/json.",
    )
    program: str | None = Field(
        None, description="The inference script (or module) in the code dir. Default inference.py."
    )
    submit_directory: str | None = Field(
        None,
        description="Where the inference code comes from. Default /opt/ml/code, then /opt/ml/model/code.",
    )
    multi_model: bool = Field(
        False, description="Multi-model endpoint: the /models routes, models loaded at run time. Default false."
    )
    startup_timeout: int = Field(600, ge=1, description="Seconds model_fn may take before serve gives up. Default 600.")
    container_log_level: int = Field(20, description="Log level, number or name. Default 20 (INFO).")

    @field_validator("safe_port_range", mode="before")
    @classmethod
    def _parse_port_range(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        low, sep, high = value.strip().partition("-")
        if not sep or not low.strip().isdigit() or not high.strip().isdigit():
            raise ValueError('expected a port range "XXXX-YYYY"')
        return int(low), int(high)

    @field_validator("safe_port_range")
    @classmethod
    def _check_port_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1] <= 65535:
            raise ValueError("expected 1 <= XXXX <= YYYY <= 65535")
        return value

    @field_validator("model_server_worker_class", mode="before")
    @classmethod
    def _worker_class(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        name = value.strip().lower()
        if name not in WORKER_CLASS_NAMES:
            hint = did_you_mean(name, WORKER_CLASS_NAMES)
            raise ValueError(f"expected one of {', '.join(WORKER_CLASS_NAMES)}{hint}")
        return WORKER_CLASS_NAMES[name]

    @field_validator("bind_to_address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("expected an IP address such as 0.0.0.0 or 127.0.0.1") from None

    @field_validator("batch_strategy", mode="before")
    @classmethod
    def _normalise_strategy(cls, value: Any) -> Any:
        return (normalise_batch_strategy(value) or value) if isinstance(value, str) else value

    @field_validator("default_invocations_accept")
    @classmethod
    def _check_media_type(cls, value: str) -> str:
        main, sep, sub = value.strip().lower().partition("/")
        if not (sep and main and sub) or "*" in value or ";" in value or " " in value.strip():
            raise ValueError("expected one media type such as application/json")
        return f"{main}/{sub}"

    @field_validator("program")
    @classmethod
    def _check_program(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None

    @field_validator("container_log_level", mode="before")
    @classmethod
    def _parse_level(cls, value: Any) -> int:
        return parse_log_level(value)

    @model_validator(mode="after")
    def _check_combinations(self) -> ServingSettings:
        if self.model_server_threads > 1 and self.model_server_worker_class == "sync":
            raise ValueError(
                f"{ENV_PREFIX}MODEL_SERVER_THREADS={self.model_server_threads} needs "
                f"{ENV_PREFIX}MODEL_SERVER_WORKER_CLASS=async or gthread (a sync worker runs one request at a time)"
            )
        if self.max_concurrent_transforms and self.max_payload_in_mb:
            product = self.max_concurrent_transforms * self.max_payload_in_mb
            if product > MAX_TRANSFORM_BUDGET_MB:
                raise ValueError(
                    f"{ENV_PREFIX}MAX_CONCURRENT_TRANSFORMS x {ENV_PREFIX}MAX_PAYLOAD_IN_MB is {product}; "
                    f"the platform accepts at most {MAX_TRANSFORM_BUDGET_MB}"
                )
        return self

    # Derived values.
    def workers(self) -> int:
        """MODEL_SERVER_WORKERS, else the CPUs this process may use (affinity mask, cgroup quota)."""
        return self.model_server_workers or hardware.num_cpus()

    @property
    def timeout(self) -> int:
        return self.model_server_timeout_seconds or self.model_server_timeout

    @property
    def max_payload_bytes(self) -> int | None:
        """The request body limit in bytes; None when MAX_PAYLOAD_IN_MB is 0 (no limit)."""
        return self.max_payload_in_mb * MEBIBYTE or None

    @property
    def program_name(self) -> str:
        return self.program or DEFAULT_PROGRAM

    def execution_parameters(self) -> dict[str, Any]:
        """The body of GET /execution-parameters, within the platform's limits."""
        concurrency = self.max_concurrent_transforms or self.workers() * self.model_server_threads
        payload = min(self.max_payload_in_mb, MAX_TRANSFORM_BUDGET_MB)  # batch's own bound, whatever we accept
        if payload:
            concurrency = min(concurrency, MAX_TRANSFORM_BUDGET_MB // payload)
        return {
            "MaxConcurrentTransforms": max(1, concurrency),
            "BatchStrategy": self.batch_strategy or "MULTI_RECORD",
            "MaxPayloadInMB": payload,
        }


def load_serving_settings(**overrides: Any) -> ServingSettings:
    """ServingSettings from the environment (and keyword overrides); ConfigError naming each bad variable."""
    return ServingSettings.from_environ(None, **overrides)
