"""Atomic file writes: a file appears complete under its final name, or not at all.

Every artifact lavabridge writes (models, recordings, reports, plots, run-directory files,
checkpoints) goes through :func:`atomic_path`: the content is written to a temporary name beside
the target and renamed onto it only when the writer finished; an error or an interruption
removes the temporary file, and whatever was under the final name before stays as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lavabridge.signals import deferred, handle_signals


def temporary_name(path: Path) -> Path:
    """``.<stem>.tmp<pid><suffix>`` beside ``path`` (the suffix kept, for writers that use it)."""
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write; renamed onto ``path`` when the block succeeds, else removed."""
    out = Path(path)
    tmp = temporary_name(out)
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


class StageFiles:
    """The files of one stage, written under temporary names and published together.

    ``path(name)`` gives the temporary path to write ``name`` to; leaving the ``with`` block
    renames every file onto its final name, with SIGINT / SIGTERM / SIGHUP held until the renames
    are done (:func:`lavabridge.signals.deferred`, also for callers that installed no handlers);
    an error or an interruption inside the block removes them all, so the directory keeps its
    previous files. A name whose writer produced no file is not published. Should a rename fail
    (a full or read-only disk), the temporary files left are removed and the ``OSError`` raised.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._files: list[tuple[Path, Path]] = []

    def path(self, name: str) -> Path:
        """Where to write ``name`` (a temporary path until the stage is published)."""
        final = self.directory / name
        tmp = temporary_name(final)
        self._files.append((tmp, final))
        return tmp

    def __enter__(self) -> StageFiles:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            for tmp, _final in self._files:
                tmp.unlink(missing_ok=True)
            return
        try:
            with handle_signals(), deferred():
                for tmp, final in self._files:
                    if tmp.exists():
                        os.replace(tmp, final)
        except OSError:
            for tmp, _final in self._files:
                tmp.unlink(missing_ok=True)
            raise
