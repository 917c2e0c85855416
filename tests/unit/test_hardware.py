import os
import time
from pathlib import Path

import pytest

from smtoolkit import hardware


def test_cpu_count_honours_affinity() -> None:
    assert hardware.cpu_count(Path("/nonexistent")) == len(os.sched_getaffinity(0))


def test_cpu_count_honours_cgroup_v2_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert hardware.cpu_count(tmp_path) == min(2, len(os.sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert hardware.cpu_count(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert hardware.cpu_count(tmp_path) == len(os.sched_getaffinity(0))


def test_cpu_count_honours_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert hardware.cpu_count(tmp_path) == 1


def test_no_nvidia_smi_means_zero_gpus_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    hardware.num_gpus.cache_clear()
    start = time.perf_counter()
    assert hardware.num_gpus() == 0
    assert time.perf_counter() - start < 0.05
    hardware.num_gpus.cache_clear()


def test_gpus_are_counted_from_nvidia_smi_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A stand-in nvidia-smi (no GPU here) that also counts how often it runs."""
    calls = tmp_path / "calls"
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        f"#!/bin/sh\necho x >> {calls}\n"
        "echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)'\n"
        "echo 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    hardware.num_gpus.cache_clear()
    assert hardware.num_gpus() == 2
    assert hardware.num_gpus() == 2
    assert calls.read_text().count("x") == 1
    hardware.num_gpus.cache_clear()


def test_failing_nvidia_smi_means_zero(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    hardware.num_gpus.cache_clear()
    assert hardware.num_gpus() == 0
    hardware.num_gpus.cache_clear()


def test_neuron_cores_from_neuron_ls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "neuron-ls"
    fake.write_text('#!/bin/sh\necho \'[{"neuron_device": 0, "nc_count": 2}, {"neuron_device": 1, "nc_count": 2}]\'\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    hardware.num_neurons.cache_clear()
    assert hardware.num_neurons() == 4
    hardware.num_neurons.cache_clear()
