"""Nothing lost: an interrupted training leaves the previous artifacts or none; --resume finishes it.

Real subprocesses and signals: ``lavabridge train`` is interrupted after a checkpoint exists, the
run directory is inspected, and ``lavabridge train --resume`` must end with exactly the model an
uninterrupted run with the same seed ends with (byte-identical float IR).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lavabridge.cli import main

LAVABRIDGE = Path(sys.executable).parent / "lavabridge"
ARGS = ["--epochs", "30", "--hidden", "8", "--steps", "6", "--max-test", "10", "--lr", "0.01"]
STAGE_FILES = ("model.pt", "model.lbir", "train.json", "pipeline.json")


def _interrupt_training(out: Path, sig: int, extra: list[str] | None = None) -> tuple[int, str]:
    """Start ``lavabridge train``; once a checkpoint exists, send ``sig``; wait for the exit."""
    checkpoint = out / "checkpoint.pt"
    before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
    proc = subprocess.Popen(
        [str(LAVABRIDGE), "train", *ARGS, *(extra or []), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        if checkpoint.exists() and checkpoint.stat().st_mtime_ns != before:
            break
        if proc.poll() is not None:
            pytest.fail(f"training ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.02)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_interrupted_training_publishes_nothing_and_resumes_to_the_same_model(
    tmp_path: Path,
) -> None:
    reference = tmp_path / "reference"
    assert main(["train", *ARGS, "--out", str(reference)]) == 0
    run = tmp_path / "run"
    rc, err = _interrupt_training(run, signal.SIGINT)
    assert rc == 130 and "train interrupted by SIGINT" in err, err
    assert (run / "checkpoint.pt").is_file()
    assert [name for name in STAGE_FILES if (run / name).exists()] == []
    assert not list(run.glob(".*tmp*")), "temporary files left"
    assert main(["train", *ARGS, "--resume", "--out", str(run)]) == 0
    assert (run / "model.lbir").read_bytes() == (reference / "model.lbir").read_bytes()


def test_interruption_keeps_the_previous_complete_artifacts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *ARGS, "--epochs", "2", "--out", str(run)]) == 0
    before = {name: (run / name).read_bytes() for name in STAGE_FILES}
    rc, err = _interrupt_training(run, signal.SIGTERM, ["--seed", "5"])
    assert rc == 143, err
    assert {name: (run / name).read_bytes() for name in STAGE_FILES} == before
    assert not list(run.glob(".*tmp*"))


def test_resume_refuses_a_checkpoint_of_other_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", *ARGS, "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", *ARGS, "--seed", "9", "--resume", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt" in err and "seed" in err and "--resume" in err
    # settings outside the optimizer's (here the neurons') are part of the checkpoint too
    assert main(["train", *ARGS, "--voltage-decay", "0.3", "--resume", "--out", str(run)]) == 2
    assert "voltage_decay" in capsys.readouterr().err
