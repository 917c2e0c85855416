"""The plan of a local transform job (`plan_transform`): the model data unpacked into algo-1's tree, the inference
code fetched, `serve`'s argv and the variables it adds (its port chosen when it starts), the input sent in batches
with the settings the request fixes, and where the `.out` files go. Pure: nothing is read from S3, written or
started, so `--dry-run` prints exactly what execute runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smtoolkit.local.jobs.common import LocalRunSettings, host_variables
from smtoolkit.local.jobs.common import python_argv as smtoolkit_argv
from smtoolkit.local.jobs.plan import Transfer, inherited_environment
from smtoolkit.local.platform.modeldata import planned_code_dir, submit_directory
from smtoolkit.local.platform.runner import HostLaunch
from smtoolkit.local.platform.tree import host_paths
from smtoolkit.local.spec.transform import TransformJobSpec
from smtoolkit.logs import mask_text, masked
from smtoolkit.paths import JobPaths
from smtoolkit.storage import is_s3_uri, local_path
from smtoolkit.transform.request import TransformRequest
from smtoolkit.transform.server import ServeOptions, server_environment
from smtoolkit.transform.settings import DEFAULT_CONCURRENCY, DEFAULT_PAYLOAD_MB, DEFAULT_STRATEGY, LocalOptions
from smtoolkit.transform.settings import resolve as resolve_settings

HOST = "algo-1"
PORT_VARIABLE = "SAGEMAKER_BIND_TO_PORT"
PORT_CHOSEN_AT_START = "chosen at start (a free loopback port)"
# The settings the server may give in /execution-parameters when the request leaves them unset.
SERVER_SETTINGS = {
    "BatchStrategy": DEFAULT_STRATEGY,
    "MaxPayloadInMB": DEFAULT_PAYLOAD_MB,
    "MaxConcurrentTransforms": DEFAULT_CONCURRENCY,
}


@dataclass(frozen=True)
class TransformPlan:
    name: str
    work_dir: Path
    paths: JobPaths  # algo-1's tree
    model: Transfer | None  # the model data unpacked or copied into the tree (None: the model dir is left empty)
    code: Transfer | None  # the inference code fetched into the tree (None: nothing to fetch)
    server: HostLaunch  # env: what it adds to the inherited environment; its port is set at start
    batches: Mapping[str, Any]  # the transform settings, those the server may decide named so
    inputs: Transfer
    outputs: Transfer
    instance_count: int  # TransformResources.InstanceCount (run on one host)

    def launch(self, port: int, environ: Mapping[str, str]) -> HostLaunch:
        """The server as execute starts it: `environ` without job variables, its additions, the chosen port."""
        env = {**inherited_environment(environ), **self.server.env, PORT_VARIABLE: str(port)}
        return replace(self.server, env=env)

    def describe(self) -> dict[str, Any]:
        server = self.server
        return {
            "Job": f"TransformJob {self.name}",
            "WorkDir": str(self.work_dir),
            "Model": self.model.describe() if self.model else f"none: {self.paths.model_dir} is left empty",
            "Code": self.code.describe() if self.code else None,
            "Server": {"Host": server.host, "Argv": list(server.argv), "Env": dict(server.env), "Cwd": str(server.cwd)},
            "Batches": dict(self.batches),
            "Inputs": [self.inputs.describe()],
            "Outputs": [self.outputs.describe()],
        }

    def text(self) -> str:
        """The plan as JSON, secret-looking values masked as in the logs."""
        return mask_text(json.dumps(masked(self.describe()), indent=2))


def _model(spec: TransformJobSpec, paths: JobPaths) -> Transfer | None:
    container, target = spec.container, str(paths.model_dir)
    if container.model_data_source is not None:
        source = container.model_data_source.s3_data_source
        how = "tarball unpacked" if source.compression_type == "Gzip" else "objects under the prefix copied"
        return Transfer(source.s3_uri, target, how)
    uri = container.model_data_url
    if uri is None:
        return None
    folder = not is_s3_uri(uri) and local_path(uri).is_dir()
    return Transfer(uri, target, "folder copied" if folder else "model.tar.gz unpacked (safe extractor)")


def _batches(request: TransformRequest, local: LocalOptions) -> dict[str, Any]:
    settings = resolve_settings(request, None, local).describe()
    for name, default in SERVER_SETTINGS.items():
        if getattr(request, name) in (None, 0):
            settings[name] = f"from the server's /execution-parameters at start, else {default}"
    del settings["input"], settings["output"]
    return settings


def plan_transform(
    spec: TransformJobSpec,
    request: TransformRequest,
    settings: LocalRunSettings,
    workers: int | None = None,
    local: LocalOptions | None = None,
) -> TransformPlan:
    work_dir = settings.work_dir.resolve()
    paths = host_paths(work_dir, HOST)
    submit = submit_directory(spec.container, request.Environment)
    code_dir = planned_code_dir(submit, paths)
    code = (
        None
        if submit is None or code_dir is None or code_dir != paths.code_dir
        else Transfer(submit, str(code_dir), "fetched (a folder, tarball or s3:// tarball)")
    )
    additions = host_variables(spec.container.environment, paths.base, [HOST], {})
    options = ServeOptions(code_dir=code_dir, workers=workers)
    env = server_environment(request, options, 0, additions, paths.base) | {PORT_VARIABLE: PORT_CHOSEN_AT_START}
    inputs, output_uri = request.TransformInput.DataSource.S3DataSource, request.TransformOutput.S3OutputPath
    how = f"{inputs.S3DataType}, {request.TransformInput.SplitType} split, sent to the server in batches"
    return TransformPlan(
        name=spec.transform_job_name,
        work_dir=work_dir,
        paths=paths,
        model=_model(spec, paths),
        code=code,
        server=HostLaunch(HOST, smtoolkit_argv("serve"), env, paths.base),
        batches=_batches(request, local or LocalOptions()),
        inputs=Transfer(inputs.S3Uri, "the server (POST /invocations)", how),
        outputs=Transfer("<input file>.out, records in input order", output_uri, "each file once it is complete"),
        instance_count=spec.transform_resources.instance_count,
    )
