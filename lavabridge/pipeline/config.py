"""The configuration of a pipeline run (``pipeline.json``), checked field by field on reading."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lavabridge.atomic import write_text
from lavabridge.errors import ModelFileError

ENCODINGS = ("rate", "current")
ARCHS = ("dense", "conv")
DATASETS = ("digits", "mnist", "fashion-mnist", "fashion_mnist", "fashion")
MAX_CONFIG_BYTES = 1 << 20  # a pipeline.json is a few hundred bytes


@dataclass
class PipelineConfig:
    """Everything :func:`run_pipeline` needs; the defaults are the ``make demo`` run."""

    dataset: str = "digits"
    data_dir: str | None = None
    hidden: tuple[int, ...] = (256,)
    arch: str = "dense"  # "dense" | "conv": conv 3x3 -> avg pool 2x2 per entry of `channels`
    channels: tuple[int, ...] = (8, 16)  # conv arch: output channels of each conv stage
    num_steps: int = 24
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    current_decay: float = 1.0
    voltage_decay: float = 0.1
    threshold: float = 1.0
    seed: int = 0
    encoding: str = "rate"  # "rate" (Bernoulli spikes) or "current" (bias-driven input layer)
    input_gain: float = 1.0
    qat: bool = False
    netx_compatible: bool = False  # quantize with weight_exp = 0 so the model exports to netx
    calib_samples: int = 256
    max_test: int | None = None
    max_train: int | None = None  # train on the first N training samples only
    lava: bool = True
    lava_samples: int | None = None  # run Lava on the first N evaluated samples (None: all)
    lava_chunk: int = 64
    device: str = "auto"
    out_dir: Path = field(default_factory=lambda: Path("runs/demo"))
    progress: bool = True


CONFIG_FILE = "pipeline.json"
# the fields that shape the trained model besides what TrainConfig holds (seed, lr, batch size,
# steps): a checkpoint resumes only a run that shares them; epochs may grow, and quantization or
# deployment settings do not matter to training
TRAINING_FIELDS = ("dataset", "hidden", "arch", "channels", "current_decay", "voltage_decay",
                   "threshold", "encoding", "input_gain", "qat", "max_train")  # fmt: skip
# absent from files of older versions
OPTIONAL_FIELDS: dict[str, object] = {"arch": "dense", "channels": [8, 16], "max_train": None}


def training_settings(cfg: PipelineConfig) -> dict[str, object]:
    """The JSON values of :data:`TRAINING_FIELDS` (what a training checkpoint records)."""
    data = json.loads(config_json(cfg))
    return {k: data[k] for k in TRAINING_FIELDS}


def config_json(cfg: PipelineConfig) -> str:
    """The text of ``pipeline.json`` for ``cfg``."""
    data = asdict(cfg)
    data["out_dir"] = str(cfg.out_dir)
    data["hidden"] = list(cfg.hidden)
    data["channels"] = list(cfg.channels)
    return json.dumps(data, indent=2)


def save_config(cfg: PipelineConfig, out: Path) -> Path:
    """Write the run's configuration next to its artifacts (atomically; the later stages read it)."""
    out.mkdir(parents=True, exist_ok=True)
    return write_text(out / CONFIG_FILE, config_json(cfg))


_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": (str,), "arch": (str,), "data_dir": (str, type(None)), "num_steps": (int,), "epochs": (int,),
    "batch_size": (int,), "lr": (float, int), "current_decay": (float, int),
    "voltage_decay": (float, int), "threshold": (float, int), "seed": (int,), "encoding": (str,),
    "input_gain": (float, int), "qat": (bool,), "netx_compatible": (bool,),
    "calib_samples": (int,), "max_test": (int, type(None)), "max_train": (int, type(None)), "lava": (bool,),
    "lava_samples": (int, type(None)), "lava_chunk": (int,), "device": (str,),
    "out_dir": (str,), "progress": (bool,),
}  # fmt: skip
# legal ranges of the integer fields: far beyond any real run, small enough to allocate nothing absurd
_RANGES: dict[str, tuple[int, int]] = {
    "num_steps": (1, 100_000), "epochs": (1, 100_000), "batch_size": (1, 1_000_000),
    "calib_samples": (1, 10_000_000), "lava_chunk": (1, 100_000), "max_test": (1, 10**9), "max_train": (1, 10**9),
    "lava_samples": (1, 10**9), "seed": (0, 2**63 - 1),
}  # fmt: skip


def _check_field(path: Path, key: str, value: object) -> None:
    allowed = _TYPES[key]
    if isinstance(value, bool) and bool not in allowed:
        raise ModelFileError(f"{path}: '{key}' must be {' or '.join(t.__name__ for t in allowed)}, "
                             f"got {value!r}")  # fmt: skip
    if not isinstance(value, allowed):
        names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
        raise ModelFileError(f"{path}: '{key}' must be {names}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelFileError(f"{path}: '{key}' must be finite, got {value!r}")
    lo, hi = _RANGES.get(key, (None, None))
    if lo is not None and hi is not None and isinstance(value, int) and not lo <= value <= hi:
        raise ModelFileError(f"{path}: '{key}' must be in [{lo}, {hi}], got {value}")


def _check(path: Path, data: Any) -> None:
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: a run configuration is a JSON object, got "
                             f"{type(data).__name__}")  # fmt: skip
    known = {f.name for f in fields(PipelineConfig)}
    for key, default in OPTIONAL_FIELDS.items():
        data.setdefault(key, default)
    unknown, missing = sorted(set(data) - known), sorted(known - set(data))
    if unknown or missing:
        raise ModelFileError(f"{path}: unknown fields {unknown}, missing fields {missing}")
    for key, value in data.items():
        if key not in ("hidden", "channels"):
            _check_field(path, key, value)
    for key in ("hidden", "channels"):
        widths = data[key]
        if (
            not isinstance(widths, list)
            or not widths
            or not all(
                isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 1 << 20 for h in widths
            )
        ):
            raise ModelFileError(f"{path}: '{key}' must be a list of widths >= 1, got {widths!r}")
    if data["encoding"] not in ENCODINGS or data["dataset"] not in DATASETS:
        raise ModelFileError(f"{path}: 'encoding' must be one of {ENCODINGS} and 'dataset' one of "
                             f"{DATASETS}")  # fmt: skip
    if data["arch"] not in ARCHS:
        raise ModelFileError(f"{path}: 'arch' must be one of {ARCHS}, got {data['arch']!r}")


def load_config(run_dir: str | os.PathLike[str]) -> PipelineConfig:
    """The configuration a ``train`` stage wrote into ``run_dir``, checked field by field.

    Raises
    ------
    ModelFileError
        Missing, unreadable, oversized or malformed ``pipeline.json``; the message names the file
        and the field.
    """
    path = Path(run_dir) / CONFIG_FILE
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelFileError(f"{path}: {path.stat().st_size} bytes is not a run configuration")
        data = json.loads(path.read_text(encoding="utf-8"))
    except ModelFileError:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a lavabridge run configuration ({exc})") from exc
    _check(path, data)
    data["out_dir"] = Path(run_dir)
    data["hidden"] = tuple(data["hidden"])
    data["channels"] = tuple(data["channels"])
    return PipelineConfig(**data)
