"""A small, explicit training loop for :class:`~lavabridge.nn.SpikingNet` classifiers.

Seeded (torch and the per-epoch spike encoding), shows progress, checkpoints every epoch (model,
optimizer, losses, written atomically), resumes from that checkpoint (``TrainConfig.resume``) to
the same model an uninterrupted run ends with, and uses a GPU when one is present
(``device="auto"``).
"""

from __future__ import annotations

import contextlib
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from lavabridge.atomic import atomic_path
from lavabridge.coding import predict_by_count, rate_encode
from lavabridge.errors import ModelFileError, ValidationError
from lavabridge.nn.coding import to_time_major
from lavabridge.nn.layers import SpikingNet
from lavabridge.nn.loss import count_cross_entropy

Encoder = Callable[[npt.NDArray[np.float32], int], np.ndarray]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def default_encoder(num_steps: int) -> Encoder:
    """Rate coding over ``num_steps`` with the given seed."""

    def encode(x: npt.NDArray[np.float32], seed: int) -> npt.NDArray[np.uint8]:
        return rate_encode(x, num_steps, seed)

    return encode


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    device: str = "auto"
    loss: LossFn = field(default=lambda s, y: count_cross_entropy(s, y, scale=0.5))
    checkpoint: Path | None = None
    progress: bool = True
    num_steps: int | None = None  # required for a bias-input net (its input has no time axis)
    resume: bool = False  # continue from ``checkpoint`` when it exists
    # further settings a checkpoint must match to be resumed (the pipeline passes its dataset,
    # encoding, neuron parameters, ...); JSON values
    settings: dict[str, object] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :func:`fit` measured: loss and accuracy per epoch, wall time."""

    losses: list[float]
    train_accuracy: list[float]
    seconds: float
    device: str


def _fix_lava_start_method() -> None:
    """Import Lava's multiprocessing layer before tqdm creates its lock.

    Lava calls ``multiprocessing.set_start_method("fork")`` when it is first imported, which fails
    once anything (tqdm's write lock, for one) has fixed the default context. Training shows a
    progress bar and deployment imports Lava afterwards, so Lava goes first.
    """
    with contextlib.suppress(ImportError):  # training works without Lava installed
        import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401


def _forward(
    net: SpikingNet, batch: np.ndarray, device: torch.device, num_steps: int | None
) -> torch.Tensor:
    """Output spikes ``[T, B, N]`` for encoded spikes ``[B, T, n]`` or graded bias input ``[B, n]``."""
    if net.bias_input:
        if num_steps is None:
            raise ValidationError("fit", "num_steps", "required for a bias-driven input layer")
        x = torch.as_tensor(batch, dtype=torch.float32, device=device)
        out = net(x, num_steps=num_steps)[-1]
    else:
        out = net(to_time_major(batch, device))[-1]
    assert isinstance(out, torch.Tensor)  # return_state=False gives spikes only
    return out


# what torch.load and loading a damaged or foreign checkpoint's contents raise
CHECKPOINT_ERRORS = (OSError, RuntimeError, KeyError, TypeError, ValueError, AttributeError,
                     IndexError, OverflowError, EOFError, pickle.UnpicklingError)  # fmt: skip


def _fingerprint(cfg: TrainConfig, net: SpikingNet) -> dict[str, object]:
    """What a checkpoint must share with the run that resumes it."""
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    return {**cfg.settings, "seed": cfg.seed, "lr": cfg.lr, "batch_size": cfg.batch_size,
            "num_steps": cfg.num_steps, "shapes": shapes}  # fmt: skip


def _save_checkpoint(
    cfg: TrainConfig,
    epoch: int,
    net: SpikingNet,
    opt: torch.optim.Optimizer,
    losses: list[float],
    accs: list[float],
) -> None:
    assert cfg.checkpoint is not None
    state = {
        "epoch": epoch,
        "state_dict": net.state_dict(),
        "optimizer": opt.state_dict(),
        "losses": losses,
        "train_accuracy": accs,
        "fingerprint": _fingerprint(cfg, net),
    }
    with atomic_path(cfg.checkpoint) as tmp:
        torch.save(state, tmp)


def _resume(
    net: SpikingNet,
    opt: torch.optim.Optimizer,
    cfg: TrainConfig,
    losses: list[float],
    accs: list[float],
    device: torch.device,
) -> int:
    """Load ``cfg.checkpoint`` into ``net`` and ``opt``; the first epoch still to run."""
    path = cfg.checkpoint
    if path is None or not Path(path).is_file():
        return 0
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        epoch = int(state["epoch"])
        found = dict(state["fingerprint"])
    except CHECKPOINT_ERRORS as exc:
        raise ModelFileError(f"{path}: not a lavabridge training checkpoint ({exc})") from exc
    want = _fingerprint(cfg, net)
    differ = sorted(k for k in set(want) | set(found) if found.get(k) != want.get(k))
    if differ:
        raise ValidationError(
            f"checkpoint {path}", ", ".join(differ), "differs from this run's configuration: "
            "resume with the same settings, or train without --resume",
        )  # fmt: skip
    try:
        net.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        done = [float(v) for v in state["losses"]], [float(v) for v in state["train_accuracy"]]
    except CHECKPOINT_ERRORS as exc:
        raise ModelFileError(f"{path}: damaged training checkpoint ({exc})") from exc
    losses.extend(done[0])
    accs.extend(done[1])
    return epoch + 1


def identity_encoder(x: npt.NDArray[np.float32], seed: int) -> npt.NDArray[np.float32]:
    """Direct current input: the graded values themselves (no spikes, no randomness)."""
    return x


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def fit(
    net: SpikingNet,
    x_train: npt.NDArray[np.float32],
    y_train: npt.NDArray[np.int64],
    encode: Encoder,
    config: TrainConfig | None = None,
) -> TrainResult:
    """Train ``net`` with surrogate gradients (Adam), re-encoding the inputs every epoch.

    ``encode(x, seed)`` turns a float batch ``[B, D]`` into spikes ``[B, T, D]`` (a fresh seed per
    epoch: the network never sees the same spike trains twice); for a net with a bias-driven input
    layer use :func:`identity_encoder` and set ``config.num_steps``.
    """
    cfg = config or TrainConfig()
    _fix_lava_start_method()
    if len(x_train) != len(y_train) or len(x_train) == 0:
        raise ValidationError(
            "fit", "x_train/y_train", f"{len(x_train)} inputs vs {len(y_train)} labels"
        )
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    losses: list[float] = []
    accs: list[float] = []
    t0 = time.perf_counter()
    first = _resume(net, opt, cfg, losses, accs, device) if cfg.resume else 0
    if cfg.checkpoint is not None:
        Path(cfg.checkpoint).parent.mkdir(parents=True, exist_ok=True)
    epochs = range(first, cfg.epochs)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.epochs, initial=first, desc="train", unit="epoch")
    y_all = torch.as_tensor(y_train, device=device)
    for epoch in epochs:
        rng = np.random.default_rng(cfg.seed * 100_003 + epoch)
        perm = rng.permutation(len(y_train))
        spikes = encode(x_train, cfg.seed * 100_003 + epoch)
        total, correct, running = 0, 0, 0.0
        net.train()
        for b in range(0, len(perm), cfg.batch_size):
            idx = perm[b : b + cfg.batch_size]
            out = _forward(net, spikes[idx], device, cfg.num_steps)
            loss = cfg.loss(out, y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += float(loss) * len(idx)
            total += len(idx)
            pred = predict_by_count(out.detach().transpose(0, 1).cpu().numpy())
            correct += int((pred == y_train[idx]).sum())
        losses.append(running / total)
        accs.append(correct / total)
        if cfg.checkpoint is not None:
            _save_checkpoint(cfg, epoch, net, opt, losses, accs)
        if bar is not None:
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{accs[-1]:.3f}")
            bar.update(1)
    if bar is not None:
        bar.close()
    net.eval()
    return TrainResult(losses, accs, time.perf_counter() - t0, str(device))
