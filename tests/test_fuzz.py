"""Hostile files: every reader either succeeds or raises a typed :class:`LavaBridgeError`.

Each reader of a file lavabridge accepts from a user (``.lbq``, ``.lbir``, netx ``.net``, input
and label ``.npy``, ``pipeline.json``, snapshot ``.npz``, ``report.json``) gets

* byte-level mutations of a valid seed file (hypothesis: bit flips, overwrites, insertions,
  deletions, truncation; for zip archives also mutations *inside* one member, re-zipped with valid
  CRCs so the damage reaches lavabridge's own checks rather than zip's), and
* hand-made hostile files (``fuzz_cases.crafted``: headers declaring 10^12 elements, pickles, zip
  bombs, NaN / inf, out-of-range values, nesting 10^5 deep).

A case passes when the reader returns or raises a ``LavaBridgeError`` within ``CASE_TIMEOUT_S``;
any other exception, a crash, or a hang fails it. The number of cases run is printed in the
terminal summary (``fuzz cases: N``).
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lavabridge.errors import LavaBridgeError

from fuzz_cases import READERS, Reader, bomb, crafted, make_seeds

SCRIPT = Path(sys.executable).parent / "lavabridge"
EXAMPLES_PER_READER = 190  # 13 readers: > 2,400 mutated files per run, plus the crafted ones
CASE_TIMEOUT_S = 20


class CaseTimeoutError(Exception):
    """A reader ran for more than ``CASE_TIMEOUT_S`` on one file."""


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_seeds(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(autouse=True)
def _alarm() -> Iterator[None]:
    def expired(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeoutError(f"a reader ran over {CASE_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, expired)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def check(reader: Reader, path: Path, data: bytes, fuzz_count: list[int]) -> None:
    """Write ``data`` to ``path`` and read it: a result or a LavaBridgeError, nothing else."""
    path.write_bytes(data)
    fuzz_count[0] += 1
    signal.alarm(CASE_TIMEOUT_S)
    try:
        reader(path)
    except LavaBridgeError as exc:
        assert str(exc), "a typed error must say what is wrong"
    finally:
        signal.alarm(0)


# ----------------------------------------------------------------------------- mutations
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("set"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
)


def mutate(data: bytes, mutations: list[tuple[str, float, Any]]) -> bytes:
    """``data`` with each mutation applied at its relative position."""
    out = bytearray(data)
    for op, where, arg in mutations:
        if not out:
            break
        i = int(where * len(out))
        if op == "flip":
            out[i] ^= 1 << arg
        elif op == "set":
            out[i : i + len(arg)] = arg
        elif op == "insert":
            out[i:i] = arg
        elif op == "delete":
            del out[i : i + arg]
        else:
            del out[i:]
    return bytes(out)


def mutate_member(data: bytes, member: float, mutations: list[tuple[str, float, Any]]) -> bytes:
    """The zip archive ``data`` with one member's bytes mutated and its CRC recomputed."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {name: z.read(name) for name in z.namelist()}
    name = sorted(members)[int(member * len(members))]
    members[name] = mutate(members[name], mutations)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, value in members.items():
            z.writestr(key, value)
    return buf.getvalue()


ZIPPED = {"lbq", "lbir", "snapshot"}
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_READER,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy casting NaN / overflow = garbage
@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ_SETTINGS
@given(
    mutations=st.lists(MUTATION, min_size=1, max_size=4),
    inside=st.booleans(),
    member=st.floats(0, 1, exclude_max=True),
)
def test_mutated_files_give_typed_errors(
    name: str,
    mutations: list[tuple[str, float, Any]],
    inside: bool,
    member: float,
    seeds: dict[str, Path],
    tmp_path: Path,
    fuzz_count: list[int],
) -> None:
    kind, reader = READERS[name]
    seed = seeds[kind]
    data = seed.read_bytes()
    if inside and kind in ZIPPED:
        data = mutate_member(data, member, mutations)
    else:
        data = mutate(data, mutations)
    check(reader, tmp_path / f"mutant{seed.suffix}", data, fuzz_count)


def test_seeds_are_accepted(seeds: dict[str, Path]) -> None:
    """Each seed is a valid file: the mutations start from something every reader accepts."""
    for name, (kind, reader) in READERS.items():
        assert reader(seeds[kind]) is not None, name


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_crafted_hostile_files_are_refused(
    seeds: dict[str, Path], tmp_path: Path, fuzz_count: list[int]
) -> None:
    """Every hand-made hostile file is refused with a typed error (none is accepted)."""
    cases = crafted(seeds, tmp_path)
    assert len(cases) >= 60
    for i, (name, what, data) in enumerate(cases):
        kind, reader = READERS[name]
        path = tmp_path / f"crafted{i}{seeds[kind].suffix}"
        path.write_bytes(data)
        fuzz_count[0] += 1
        signal.alarm(CASE_TIMEOUT_S)
        try:
            with pytest.raises(LavaBridgeError):
                reader(path)
        except BaseException as exc:
            raise AssertionError(f"{name}: {what}: {type(exc).__name__}: {exc}") from exc
        finally:
            signal.alarm(0)


@pytest.mark.parametrize(
    ("argv", "kind", "data"),
    [
        (
            ["verify", "{f}", "--input", "{x}", "--no-lava", "--out", "{o}/v"],
            "lbq",
            b"PK\x03\x04 zip?",
        ),
        (["info", "{f}"], "net", b"\x89HDF\r\n\x1a\n" + b"\0" * 40),
        (["run", "{m}", "--input", "{f}", "--out", "{o}/r.npz"], "npy", b"\x93NUMPY\x01\x00v\x00{"),
        (["convert", "{f}", "{o}/m.net"], "lbq", b"bomb"),
    ],
)
def test_cli_refuses_hostile_files_in_one_line(
    argv: list[str], kind: str, data: bytes, seeds: dict[str, Path], tmp_path: Path
) -> None:
    """The CLI turns a hostile file into exit code 2 and one ``lavabridge: error:`` line."""
    bad = tmp_path / f"bad{seeds[kind].suffix}"
    bad.write_bytes(bomb(seeds["lbq"].read_bytes()) if data == b"bomb" else data)
    out = tmp_path / "out"
    out.mkdir()
    subs = {"{f}": str(bad), "{x}": str(seeds["npy"]), "{m}": str(seeds["lbq"]), "{o}": str(out)}
    args = [next((a.replace(k, v) for k, v in subs.items() if k in a), a) for a in argv]
    proc = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lavabridge:")]
    assert len(lines) == 1 and lines[0].startswith("lavabridge: error:"), proc.stderr
    assert "Traceback" not in proc.stderr and bad.name in proc.stderr
    assert not any(out.iterdir()), "nothing is written for a refused file"
