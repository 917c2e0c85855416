"""Engine plans from job trees: which backend, the argv and variables each host gets, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import ConfigError
from smtoolkit.launch.backends import EngineSettings, build_engine_plan, select_backend
from smtoolkit.launch.backends.base import RANK_MAIN
from smtoolkit.launch.backends.capabilities import EFA_INSTANCES, EFA_RDMA_INSTANCES, engine_network_env
from smtoolkit.launch.backends.mpi import custom_options
from smtoolkit.launch.entrypoint import EntryPoint

ENTRY = EntryPoint("script", "train.py", python="/py")
TWO_HOSTS = {
    "hosts": ["algo-1", "algo-2"],
    "network_interface_name": "ethwe",
    "current_instance_type": "ml.p4d.24xlarge",
}


def _env(job_tree: Any, host: str = "algo-1", resources: dict[str, Any] | None = None, **hps: Any) -> TrainingEnv:
    job_tree(hyperparameters=hps, resources={"current_host": host, **(resources or TWO_HOSTS)})
    return TrainingEnv.load(reported_num_gpus=0, reported_num_neurons=0)


def _plan(env: TrainingEnv, settings: EngineSettings | None = None, environ: dict[str, str] | None = None) -> Any:
    return build_engine_plan(
        env, ENTRY, ["--lr", "0.1"], {"SM_HOSTS": "[]"}, settings or EngineSettings(), environ or {}
    )


def test_selection_follows_the_distribution_hyperparameters(job_tree: Any) -> None:
    settings = EngineSettings()
    assert select_backend(_env(job_tree), settings) == "process"
    assert select_backend(_env(job_tree, sagemaker_mpi_enabled="true"), settings) == "mpi"
    assert select_backend(_env(job_tree, sagemaker_torch_distributed_enabled=True), settings) == "torchrun"
    assert select_backend(_env(job_tree, sagemaker_pytorch_ddp_enabled="true"), settings) == "torchrun"
    assert select_backend(_env(job_tree), EngineSettings(backend="mpi")) == "mpi"


def test_torchrun_static_rendezvous_at_the_master(job_tree: Any) -> None:
    plan = _plan(_env(job_tree, "algo-2", sagemaker_torch_distributed_enabled="true"), environ={"NCCL_DEBUG": "x"})
    assert plan.role == "worker" and plan.master == "algo-1" and plan.world_size == 2
    argv = list(plan.argv)
    assert argv[:3] == ["/py", "-m", "torch.distributed.run"]
    assert argv[argv.index("--node_rank") + 1] == "1" and argv[argv.index("--nnodes") + 1] == "2"
    assert argv[argv.index("--master_addr") + 1] == "algo-1" and argv[argv.index("--master_port") + 1] == "7777"
    assert argv[-5:] == [RANK_MAIN, "script", "train.py", "--lr", "0.1"] and RANK_MAIN.endswith("launch/rank_main.py")
    assert plan.env["NCCL_SOCKET_IFNAME"] == "ethwe" and plan.env["FI_PROVIDER"] == "efa"
    assert plan.env["FI_EFA_USE_DEVICE_RDMA"] == "1" and plan.coordinator_port == 7778


def test_processes_per_host_overrides(job_tree: Any) -> None:
    env = _env(job_tree, sagemaker_torch_distributed_enabled="true", sagemaker_torch_distributed_num_processes=3)
    assert _plan(env).procs_per_host == 3 and _plan(env).world_size == 6
    assert _plan(env, EngineSettings(nproc_per_host=5)).procs_per_host == 5
    bad = _env(job_tree, sagemaker_torch_distributed_enabled="true", sagemaker_torch_distributed_num_processes="two")
    with pytest.raises(ConfigError, match="sagemaker_torch_distributed_num_processes.*whole number"):
        _plan(bad)


def test_mpi_master_argv_forwards_names_not_values(job_tree: Any) -> None:
    env = _env(
        job_tree,
        sagemaker_mpi_enabled="true",
        sagemaker_mpi_num_of_processes_per_host=2,
        sagemaker_mpi_custom_mpi_options="--NCCL_DEBUG WARN -x 'A=b c'",
    )
    plan = _plan(env, environ={"AWS_SECRET_ACCESS_KEY": "s3cr3t", "PATH": "/bin"})
    argv = list(plan.argv)
    assert plan.role == "master" and argv[:5] == ["mpirun", "--host", "algo-1:2,algo-2:2", "-np", "4"]
    assert "s3cr3t" not in " ".join(argv) and "AWS_SECRET_ACCESS_KEY" in argv and "SM_HOSTS" in argv
    assert argv[argv.index("btl_tcp_if_include") + 1] == "ethwe"
    assert argv[argv.index("A=b c") - 1 : argv.index("A=b c") + 1] == ["-x", "A=b c"]
    assert argv[-8:-4] == ["/py", "-m", "mpi4py", RANK_MAIN]
    assert plan.env["NCCL_DEBUG"] == "WARN"


def test_mpi_options_are_the_measured_ones(job_tree: Any) -> None:
    argv = list(_plan(_env(job_tree, sagemaker_mpi_enabled="true")).argv)
    options = {argv[i + 1]: argv[i + 2] for i, part in enumerate(argv) if part == "-mca"}
    assert options["pml"] == "ob1" and options["btl_vader_single_copy_mechanism"] == "none"
    assert options["plm_rsh_no_tree_spawn"] == "1" and options["oob_tcp_if_include"] == "ethwe"
    # `btl ^openib` would replace the image's own BTL exclusions (Debian's re-enables ofi/uct: +1.2 s a job).
    assert "btl" not in options and "orte_abort_on_non_zero_status" not in options
    assert argv[argv.index("-map-by") + 1] == "slot" and argv[argv.index("-bind-to") + 1] == "none"


def test_mpi_worker_runs_sshd_with_its_host_env(job_tree: Any) -> None:
    plan = _plan(_env(job_tree, "algo-2", sagemaker_mpi_enabled="true"), EngineSettings(ssh_port=2222))
    assert plan.role == "worker" and plan.argv == ()
    assert plan.sshd_argv[:3] == ("/usr/sbin/sshd", "-D", "-e") and "2222" in plan.sshd_argv
    assert plan.sshd_argv[-1] == f"SetEnv SMTOOLKIT_HOST_ENV={plan.rank_dir}/host-env.json"


def test_mpi_hosts_on_one_machine_start_through_the_local_agent(job_tree: Any) -> None:
    settings = EngineSettings(mpi_local_dir="/work/.mpi", ssh_port=2222)
    master = _plan(_env(job_tree, sagemaker_mpi_enabled="true"), settings)
    argv = list(master.argv)
    options = {argv[i + 1]: argv[i + 2] for i, part in enumerate(argv) if part == "-mca"}
    assert options["plm_rsh_agent"] == f"{master.rank_dir}/mpi-agent" and "plm_rsh_args" not in options
    assert options["orte_leave_session_attached"] == "1" and options["plm_rsh_no_tree_spawn"] == "1"
    assert options["if_base_do_not_resolve"] == "1"
    assert master.local_dir == "/work/.mpi" and master.ssh_port == 0 and master.describe()["local_dir"] == "/work/.mpi"
    worker = _plan(_env(job_tree, "algo-2", sagemaker_mpi_enabled="true"), settings)
    assert worker.role == "worker" and worker.argv == () and worker.sshd_argv == ()
    alone = _plan(_env(job_tree, resources={"hosts": ["algo-1"]}, sagemaker_mpi_enabled="true"), settings)
    assert alone.role == "single" and alone.local_dir == "" and "plm_rsh_agent" not in alone.argv


def test_the_local_agent_path_must_survive_mpiruns_split(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", "/tmp/with space")
    with pytest.raises(ConfigError, match="whitespace.*TMPDIR"):
        _plan(_env(job_tree, sagemaker_mpi_enabled="true"), EngineSettings(mpi_local_dir="/work/.mpi"))


def test_hetero_hosts_outside_the_distribution_groups_run_a_plain_process(job_tree: Any) -> None:
    resources = {
        "hosts": ["algo-1", "algo-2", "algo-3"],
        "current_group_name": "data",
        "instance_groups": [
            {"instance_group_name": "train", "hosts": ["algo-2", "algo-3"]},
            {"instance_group_name": "data", "hosts": ["algo-1"]},
        ],
    }
    hps = {"sagemaker_mpi_enabled": "true", "sagemaker_distribution_instance_groups": '["train"]'}
    env = _env(job_tree, "algo-1", resources, **hps)
    assert _plan(env).backend == "process" and _plan(env).role == "bystander"
    env = _env(job_tree, "algo-2", {**resources, "current_group_name": "train"}, **hps)
    plan = _plan(env)
    assert plan.backend == "mpi" and plan.role == "master" and plan.hosts == ("algo-2", "algo-3")


def test_custom_options_and_settings_errors() -> None:
    assert custom_options("--NCCL_DEBUG=INFO -mca x y") == (["-mca", "x", "y"], {"NCCL_DEBUG": "INFO"})
    with pytest.raises(ConfigError, match="sagemaker_mpi_custom_mpi_options"):
        custom_options("-x 'unclosed")
    with pytest.raises(ConfigError, match="SMTOOLKIT_BACKEND: got 'horovod': .*'process', 'torchrun' or 'mpi'"):
        EngineSettings.from_environ({"SMTOOLKIT_BACKEND": "horovod"})
    with pytest.raises(ConfigError, match="SMTOOLKIT_SSH_PORT: got '22.5': .*integer"):
        EngineSettings.from_environ({"SMTOOLKIT_SSH_PORT": "22.5"})
    settings = EngineSettings.from_environ({"SMTOOLKIT_SSHD_COMMAND": "", "SMTOOLKIT_HOST_WAIT_S": "5"})
    assert settings.sshd_command == () and settings.host_wait_s == 5
    assert settings.mpi_local_dir is None
    relative = EngineSettings.from_environ({"SMTOOLKIT_MPI_LOCAL_DIR": "work/.mpi"}).mpi_local_dir
    assert relative is not None and relative.startswith("/") and relative.endswith("/work/.mpi")


def test_instance_tables_are_data_overridable_by_environment() -> None:
    assert "FI_PROVIDER" not in engine_network_env("ml.x9.new", "eth0", EngineSettings())
    assert engine_network_env("ml.x9.new", "eth0", EngineSettings(efa_instances="+ml.x9.new"))["FI_PROVIDER"] == "efa"
    assert "FI_PROVIDER" not in engine_network_env("ml.p4d.24xlarge", "eth0", EngineSettings(efa_instances="ml.a"))


def test_efa_without_rdma_types_get_efa_only() -> None:
    assert EFA_RDMA_INSTANCES < EFA_INSTANCES
    g5 = engine_network_env("ml.g5.48xlarge", "eth0", EngineSettings())
    assert g5["FI_PROVIDER"] == "efa" and "FI_EFA_USE_DEVICE_RDMA" not in g5
    assert engine_network_env("ml.p5.48xlarge", "eth0", EngineSettings())["FI_EFA_USE_DEVICE_RDMA"] == "1"


def test_dry_run_plan_includes_the_engine(job_tree: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    hps = {"sagemaker_program": '"train.py"', "sagemaker_torch_distributed_enabled": "true"}
    base = job_tree(hyperparameters=hps, resources={"current_host": "algo-1", **TWO_HOSTS})
    (base / "code").mkdir()
    (base / "code" / "train.py").write_text("")
    argv = [sys.executable, "-m", "smtoolkit", "train", "--dry-run"]
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base)}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    engine, launched = plan["engine"], plan["argv"]  # the engine's argv is what the plan runs
    assert engine["backend"] == "torchrun" and engine["coordinator"] == "algo-1:7778"
    assert launched[launched.index("--nproc_per_node") + 1] == "1" and engine["exit_grace_s"] == 30

    job_tree(
        hyperparameters={**hps, "sagemaker_mpi_enabled": "true"}, resources={"current_host": "algo-1", **TWO_HOSTS}
    )
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    launched = json.loads(result.stdout)["argv"]
    rsh = launched[launched.index("plm_rsh_args") + 1]
    assert "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" in rsh
