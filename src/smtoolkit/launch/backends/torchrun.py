"""torchrun on every host of the distribution group: static rendezvous at the master, no ssh.

Each rank runs through `smtoolkit.launch.rank_main`, which writes the rank's error file (torchrun's
TORCHELASTIC_ERROR_FILE and the launcher's own) when the user's code raises, and a finished marker when the
code has ended, which `smtoolkit.launch.exit_guard` uses when torchrun does not exit by itself.
"""

from __future__ import annotations

from dataclasses import replace

from smtoolkit.launch.backends.base import RANK_MAIN, EngineInputs, EnginePlan, distributed_plan

NPROC_HYPERPARAMETER = "sagemaker_torch_distributed_num_processes"


class TorchrunBackend:
    def build(self, inputs: EngineInputs) -> EnginePlan:
        env, entry = inputs.env, inputs.entry
        plan = distributed_plan("torchrun", inputs, NPROC_HYPERPARAMETER)
        master_addr = plan.master_addr if len(plan.hosts) > 1 else "127.0.0.1"
        argv = (
            entry.python,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            str(len(plan.hosts)),
            "--node_rank",
            str(plan.hosts.index(env.current_host)),
            "--nproc_per_node",
            str(plan.procs_per_host),
            "--master_addr",
            master_addr,
            "--master_port",
            str(plan.master_port),
            "--max_restarts",
            "0",
            RANK_MAIN,
            entry.kind,
            entry.name,
            *inputs.args,
        )
        master = plan.master if len(plan.hosts) > 1 else "127.0.0.1"
        return replace(plan, argv=argv, master=master, exit_grace_s=inputs.settings.exit_grace_s)


BACKEND = TorchrunBackend()
