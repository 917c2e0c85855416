"""Data-parallel training with torch.distributed under torchrun: a linear model on the `train` channel's CSV
(target in the first column), or on synthetic data when there is no channel. Rank 0 saves the model.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; smtoolkit sets SM_MODEL_DIR,
SM_CHANNEL_TRAIN, SM_HOSTS... Hyperparameters arrive as `--epochs 10 --lr 0.05`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def load_data(rank: int, world_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's shard of the data: every world_size-th row."""
    channel = os.environ.get("SM_CHANNEL_TRAIN")
    files = sorted(Path(channel).glob("*.csv")) if channel else []
    if files:
        rows = [[float(cell) for cell in line.split(",")] for f in files for line in f.read_text().splitlines() if line]
        data = torch.tensor(rows)
    else:
        generator = torch.Generator().manual_seed(0)
        features = torch.randn(1024, 4, generator=generator)
        data = torch.cat([features @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1, features], dim=1)
    shard = data[rank::world_size]
    return shard[:, 1:], shard[:, :1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)

    features, target = (t.to(device) for t in load_data(rank, world_size))
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(features.shape[1], 1).to(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(features), target)
        loss.backward()  # DDP averages the gradients over every rank of every host
        optimizer.step()
        if rank == 0:
            print(f"epoch={epoch}; train:loss={loss.item():.6f};")

    if rank == 0:
        torch.save(model.module.state_dict(), Path(os.environ["SM_MODEL_DIR"]) / "model.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
