"""What every local job checks before it starts work (before the work dir is touched, a model unpacked or a host
started): each local input exists, the code and its entry point are there, each output location can be written
(s3://: its bucket answers), and the work dir holds no input it would remove. All problems come as one
ConfigError (exit 2), each naming the command's flag and the API field. A dry run checks the same but the output
locations (a write probe would write).
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from pathlib import Path

from smtoolkit.errors import ConfigError, Problem, did_you_mean
from smtoolkit.local.platform.artifacts import artifact_prefix
from smtoolkit.local.platform.workdir import OUTPUT_DIR, check_work_dir
from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.local.spec.training import TrainingJobSpec
from smtoolkit.local.spec.transform import PROGRAM_VARIABLE, SUBMIT_DIRECTORY_VARIABLE, TransformJobSpec
from smtoolkit.paths import DEFAULT_BASE_DIR
from smtoolkit.storage import is_s3_uri, local_path, writable_problem
from smtoolkit.transform.io import input_problems, location_problems, warn_replaced
from smtoolkit.transform.request import TransformRequest

SOURCE_DIR = "--source-dir (sagemaker_submit_directory)"
ENTRY_POINT = "--entry-point (sagemaker_program)"
MODEL_DATA = "--model-data (Model.PrimaryContainer.ModelDataUrl)"


def _decoded(value: str | None) -> str | None:
    """A hyperparameter's value as the SDK JSON-encodes it (`"\\"train.py\\""` -> `train.py`)."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def _missing(inputs: Mapping[str, str | None]) -> list[Problem]:
    return [
        Problem(uri, "no such file or directory", field)
        for field, uri in inputs.items()
        if uri and not is_s3_uri(uri) and not local_path(uri).exists()
    ]


def _unwritable(outputs: Mapping[str, str | None], environ: Mapping[str, str]) -> list[Problem]:
    problems = []
    for field, uri in outputs.items():
        if not uri:
            continue
        problem = writable_problem(uri, environ)
        if problem:
            problems.append(Problem(uri, problem, field))
    return problems


def _entry_point_problems(code: str | None, program: str | None, field: str, code_field: str) -> list[Problem]:
    """The entry point must be a file in the code when the code is a local directory."""
    if not program or not code or is_s3_uri(code) or not local_path(code).is_dir():
        return []
    code_dir = local_path(code)
    if (code_dir / program).is_file():
        return []
    folder = (code_dir / program).parent
    files = [str(path.relative_to(code_dir)) for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []
    return [Problem(program, f"not found in {code_dir} ({code_field}){did_you_mean(program, files)}", field)]


def _model_problems(uri: str | None) -> list[Problem]:
    """A local ModelDataUrl file must be a tar archive (a folder is copied as it is)."""
    if not uri or is_s3_uri(uri) or not local_path(uri).is_file() or tarfile.is_tarfile(local_path(uri)):
        return []
    return [Problem(uri, "is not a tar archive (a model.tar.gz) or a model folder", MODEL_DATA)]


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise ConfigError(problems)


def check_training(spec: TrainingJobSpec, work_dir: Path, environ: Mapping[str, str], dry_run: bool = False) -> None:
    inputs: dict[str, str | None] = {
        f"--channel {c.channel_name} (InputDataConfig)": c.data_source.uri for c in spec.input_data_config
    }
    code = _decoded(spec.hyperparameters.get("sagemaker_submit_directory"))
    inputs[SOURCE_DIR] = code
    _raise(_missing(inputs))
    program = _decoded(spec.hyperparameters.get("sagemaker_program"))
    _raise(_entry_point_problems(code, program, ENTRY_POINT, SOURCE_DIR))
    check_work_dir(work_dir, inputs)
    outputs = {"--output-path (OutputDataConfig.S3OutputPath)": spec.output_data_config.s3_output_path}
    if spec.checkpoint_config is not None:
        outputs["--checkpoint-uri (CheckpointConfig.S3Uri)"] = spec.checkpoint_config.s3_uri
    _raise([] if dry_run else _unwritable(outputs, environ))
    output_path = spec.output_data_config.s3_output_path or str(work_dir / OUTPUT_DIR)
    warn_replaced(artifact_prefix(output_path, spec.training_job_name))


def check_processing(
    spec: ProcessingJobSpec, work_dir: Path, environ: Mapping[str, str], cwd: Path, dry_run: bool = False
) -> None:
    inputs = {
        f"ProcessingInputs.{item.input_name}.S3Input.S3Uri": item.s3_input.s3_uri for item in spec.processing_inputs
    }
    script = _script(spec, cwd)
    if script is not None:
        inputs["AppSpecification.ContainerEntrypoint"] = script
    _raise(_missing(inputs))
    check_work_dir(work_dir, inputs)
    outputs = {
        f"ProcessingOutputConfig.Outputs.{item.output_name}.S3Output.S3Uri": item.s3_output.s3_uri
        for item in spec.processing_output_config.outputs
    }
    _raise([] if dry_run else _unwritable(outputs, environ))
    for uri in outputs.values():
        warn_replaced(uri)


def _script(spec: ProcessingJobSpec, cwd: Path) -> str | None:
    """The local file of the script an interpreter (`python3 x.py`) is asked to run, where it can be told."""
    command = spec.command
    if len(command) < 2 or not Path(command[0]).name.startswith(("python", "bash", "sh")):
        return None
    script = command[1]
    if script.startswith("-"):
        return None
    if not script.startswith(f"{DEFAULT_BASE_DIR}/"):
        return str(cwd / script)
    for item in spec.processing_inputs:  # /opt/ml/processing/input/code/x.py: the file in that input's source
        root = item.s3_input.local_path
        if script.startswith(f"{root}/") and not is_s3_uri(item.s3_input.s3_uri):
            source = local_path(item.s3_input.s3_uri)
            return str(source / script[len(root) + 1 :]) if source.is_dir() else str(source)
    return None


def check_transform(
    spec: TransformJobSpec, request: TransformRequest, work_dir: Path, environ: Mapping[str, str], dry_run: bool = False
) -> None:
    container = spec.container
    environment = {**container.environment, **request.Environment}
    inputs = {MODEL_DATA: container.model_data_url}
    if container.model_data_source is not None:
        inputs["Model.PrimaryContainer.ModelDataSource.S3DataSource.S3Uri"] = (
            container.model_data_source.s3_data_source.s3_uri
        )
    code = environment.get(SUBMIT_DIRECTORY_VARIABLE)
    code_field = f"--source-dir ({SUBMIT_DIRECTORY_VARIABLE})"
    if code and not code.startswith(f"{DEFAULT_BASE_DIR}/"):
        inputs[code_field] = code
    _raise(_missing(inputs) or _model_problems(container.model_data_url))
    program = environment.get(PROGRAM_VARIABLE)
    _raise(_entry_point_problems(code, program, f"--entry-point ({PROGRAM_VARIABLE})", code_field))
    check_work_dir(work_dir, {**inputs, "--input": request.TransformInput.DataSource.S3DataSource.S3Uri})
    dry_checks = input_problems(request, "--input")
    _raise(dry_checks if dry_run else location_problems(request, environ, "--input", "--output-path"))
    warn_replaced(request.TransformOutput.S3OutputPath)
