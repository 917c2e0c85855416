"""Installing the user's dependencies: requirements.txt and/or the code dir as a package, with the job's python.

A CodeArtifact repository (CA_REPOSITORY_ARN) becomes PIP_INDEX_URL in pip's environment: the token never
appears in an argv, a log line or the failure file.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smtoolkit.errors import ConfigError, InstallError

# A code dir holding one of these is a package: pip installs it (and `train` runs it as one).
PACKAGE_FILES = ("setup.py", "pyproject.toml")
_CODEARTIFACT_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):codeartifact:(?P<region>[\w-]+):(?P<account>\d+):"
    r"repository/(?P<domain>[\w.-]+)/(?P<repository>[\w.-]+)$"
)


@dataclass(frozen=True)
class InstallStep:
    description: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)  # additions to the inherited environment
    into: Path | None = None  # a warm pool env: argv's `--prefix into` becomes a temporary folder renamed to it
    from_copy: bool = False  # pip runs in a temporary copy of cwd: builds never write into the user's folder


def is_package(code_dir: Path) -> bool:
    return any((code_dir / name).is_file() for name in PACKAGE_FILES)


def install_steps(
    code_dir: Path,
    python: str = sys.executable,
    index_url: str | None = None,
    cache_dir: Path | None = None,
    prefix: Path | None = None,
) -> list[InstallStep]:
    """pip commands for the code dir: the package (with its requirements, built in a temporary copy) or
    requirements.txt alone (into `prefix` when given). With `cache_dir`, pip caches there (the command line wins
    over a PIP_NO_CACHE_DIR in the image)."""
    env = {"PIP_INDEX_URL": index_url} if index_url else {}
    cache = ("--cache-dir", str(cache_dir)) if cache_dir else ()
    pip = (python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *cache)
    requirements = ("-r", "requirements.txt") if (code_dir / "requirements.txt").is_file() else ()
    if is_package(code_dir):
        argv = (*pip, ".", *requirements)
        return [InstallStep("install the code dir as a package", argv, code_dir, env, from_copy=True)]
    if requirements and prefix is not None:
        argv = (*pip, "--prefix", str(prefix), *requirements)
        return [InstallStep(f"install requirements.txt into {prefix}", argv, code_dir, env, into=prefix)]
    if requirements:
        return [InstallStep("install requirements.txt", (*pip, *requirements), code_dir, env)]
    return []


@dataclass(frozen=True)
class CodeArtifactRepository:
    partition: str
    region: str
    account: str
    domain: str
    repository: str

    @classmethod
    def from_arn(cls, arn: str) -> CodeArtifactRepository:
        match = _CODEARTIFACT_ARN.match(arn.strip())
        if not match:
            raise ConfigError.single(
                "CA_REPOSITORY_ARN",
                f"{arn!r} is not a CodeArtifact repository ARN "
                "(expected arn:aws:codeartifact:REGION:ACCOUNT:repository/DOMAIN/REPOSITORY)",
            )
        return cls(**match.groupdict())


TokenFetcher = Callable[[CodeArtifactRepository], tuple[str, str]]


def codeartifact_index_url(arn: str, fetch: TokenFetcher | None = None) -> str:
    """The authenticated pip index URL of a CodeArtifact repository (a secret: keep it out of argv and logs)."""
    repository = CodeArtifactRepository.from_arn(arn)
    token, endpoint = (fetch or _fetch_with_boto3)(repository)
    host = endpoint.split("://", 1)[-1].rstrip("/")
    return f"https://aws:{token}@{host}/simple/"


def _fetch_with_boto3(repository: CodeArtifactRepository) -> tuple[str, str]:
    import boto3  # only jobs that use CodeArtifact pay for boto3

    client = boto3.client("codeartifact", region_name=repository.region)
    try:
        token = client.get_authorization_token(domain=repository.domain, domainOwner=repository.account)
        endpoint = client.get_repository_endpoint(
            domain=repository.domain,
            domainOwner=repository.account,
            repository=repository.repository,
            format="pypi",
        )
    except Exception as exc:  # botocore's errors: report the reason, not the traceback
        raise InstallError(
            f"CodeArtifact login for {repository.domain}/{repository.repository} failed: {exc}"
        ) from None
    return token["authorizationToken"], endpoint["repositoryEndpoint"]
