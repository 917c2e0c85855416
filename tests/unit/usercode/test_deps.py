import sys
from pathlib import Path

import pytest

from smtoolkit.errors import ConfigError
from smtoolkit.usercode.deps import CodeArtifactRepository, codeartifact_index_url, install_steps


def test_nothing_to_install(tmp_path: Path) -> None:
    assert install_steps(tmp_path) == []


def test_requirements(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("x\n")
    [step] = install_steps(tmp_path)
    assert step.argv[:4] == (sys.executable, "-m", "pip", "install")
    assert step.argv[-2:] == ("-r", "requirements.txt")
    assert step.cwd == tmp_path


def test_package_with_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "requirements.txt").write_text("x\n")
    [step] = install_steps(tmp_path)
    assert step.argv[-3:] == (".", "-r", "requirements.txt")


def test_codeartifact_token_stays_out_of_argv(tmp_path: Path) -> None:
    """CodeArtifact can't be reached from here: the token fetch is a stand-in function (the only mock)."""
    (tmp_path / "requirements.txt").write_text("x\n")
    arn = "arn:aws:codeartifact:us-west-2:123456789012:repository/my-domain/my-repo"

    def fetch(repo: CodeArtifactRepository) -> tuple[str, str]:
        assert (repo.region, repo.domain, repo.repository) == ("us-west-2", "my-domain", "my-repo")
        return "SECRET-TOKEN", "https://my-domain-123.d.codeartifact.us-west-2.amazonaws.com/pypi/my-repo/"

    url = codeartifact_index_url(arn, fetch)
    assert url == "https://aws:SECRET-TOKEN@my-domain-123.d.codeartifact.us-west-2.amazonaws.com/pypi/my-repo/simple/"
    [step] = install_steps(tmp_path, index_url=url)
    assert not any("SECRET-TOKEN" in arg for arg in step.argv)
    assert step.env == {"PIP_INDEX_URL": url}


def test_bad_codeartifact_arn() -> None:
    with pytest.raises(ConfigError, match="CA_REPOSITORY_ARN"):
        codeartifact_index_url("arn:aws:s3:::bucket", lambda r: ("t", "e"))
