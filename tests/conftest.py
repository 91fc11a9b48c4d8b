"""Shared test set-up: the reference sets, their arrays and the parity parametrisation.

The public reference sets live in ``tests/reference/<name>/`` (copies of the official-output
fixtures; see tests/reference/README.md). ``LTX_REFERENCE_FIXTURES=DIR`` replaces them with one
other set of any version. Parity tests (files named ``test_*parity*.py``) run on every set; the
other tests use one single-file set (the override when it is one, else the in-repo 2.0 set).
"""

from __future__ import annotations

import json
import os
import struct
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (loads OpenBLAS before mlx)

# Tests run on the small random demo set unless they ask for the trained one (ltx_core.demo).
os.environ.setdefault("LTX_DEMO_SET", "random")

REFERENCE_ROOT = ROOT / "tests" / "reference"
DEFAULT_SET = REFERENCE_ROOT / "ltx-2.0"
SINGLE_FILE_CHECKPOINT = "ltx2-tiny.safetensors"


def reference_sets() -> list[Path]:
    """Every set the parity tests compare: the override alone, else every in-repo set."""
    configured = os.environ.get("LTX_REFERENCE_FIXTURES")
    if configured:
        return [Path(configured).resolve()]
    return sorted(p for p in REFERENCE_ROOT.iterdir() if (p / "reference.npz").is_file())


def _metadata(path: Path) -> dict:
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return json.loads(handle.read(length)).get("__metadata__", {}) or {}


@lru_cache(maxsize=None)
def reference_version(directory: Path) -> str:
    """"2.0", "2.3" or "2.5", from the set's own files: per-component folders are 2.5; a single
    file says its version in the ``model_version`` metadata (none: 2.0)."""
    if (directory / "diffusion_models").is_dir():
        return "2.5"
    version = _metadata(directory / SINGLE_FILE_CHECKPOINT).get("model_version", "2.0")
    return ".".join(version.split(".")[:2])


def fixtures_dir() -> Path:
    """The one set the non-parity tests use."""
    configured = os.environ.get("LTX_REFERENCE_FIXTURES")
    if configured and (Path(configured) / SINGLE_FILE_CHECKPOINT).is_file():
        return Path(configured).resolve()
    return DEFAULT_SET


class Reference:
    """``reference.npz`` of a fixture set, with helpers to list cases and keys."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.version = reference_version(self.directory)
        self._npz = np.load(self.directory / "reference.npz")
        self.keys = sorted(self._npz.files)

    def __getitem__(self, key: str) -> np.ndarray:
        return self._npz[key]

    def __contains__(self, key: str) -> bool:
        return key in self._npz.files

    def __repr__(self) -> str:
        return f"Reference({self.directory.name}, LTX-{self.version})"

    def cases(self) -> list[str]:
        return sorted({key.split("/", 1)[0] for key in self.keys})

    def keys_of(self, case: str, group: str | None = None) -> list[str]:
        prefix = f"{case}/" if group is None else f"{case}/{group}/"
        return [key for key in self.keys if key.startswith(prefix)]

    @property
    def checkpoint(self) -> Path:
        return self.directory / SINGLE_FILE_CHECKPOINT


@lru_cache(maxsize=None)
def load_reference(directory: Path) -> Reference:
    return Reference(directory)


def cases_of(directory: Path) -> list[str]:
    with np.load(directory / "reference.npz") as npz:
        return sorted({key.split("/", 1)[0] for key in npz.files})


def reference_cases() -> list[str]:
    """Case names of every parity set (for coverage checks)."""
    return sorted({case for directory in reference_sets() for case in cases_of(directory)})


def pytest_runtest_logreport(report) -> None:
    """With output captured (``tasks.py test`` runs pytest-xdist workers, whose prints would
    otherwise be lost), echo each test phase's prints (stdout, then stderr) once it ends, so the PARITY / MEMORY /
    MEASURED lines reach the log as they do with ``-s``. Runs in the controller only."""
    if _IS_XDIST_WORKER:
        return
    printed = "".join(text for name, text in report.sections if name in (f"Captured stdout {report.when}", f"Captured stderr {report.when}"))
    if printed.strip():
        sys.stdout.write("\n" + printed.strip("\n") + "\n")
        sys.stdout.flush()


_IS_XDIST_WORKER = "PYTEST_XDIST_WORKER" in os.environ


def _is_parity_module(metafunc) -> bool:
    return "parity" in Path(metafunc.module.__file__).name


ALL_VERSIONS = ("2.0", "2.3", "2.5")


def module_versions(module) -> tuple[str, ...]:
    """The model versions a parity module compares (its ``VERSIONS``; default every version)."""
    return tuple(getattr(module, "VERSIONS", ALL_VERSIONS))


def pytest_generate_tests(metafunc) -> None:
    """In parity files, ``reference`` runs over every set of a version the module compares, and a
    ``case`` argument over the cases of that set which the module's ``covers(case)`` accepts."""
    if "reference" not in metafunc.fixturenames or not _is_parity_module(metafunc):
        return
    versions = module_versions(metafunc.module)
    sets = [directory for directory in reference_sets() if reference_version(directory) in versions]
    if "case" in metafunc.fixturenames:
        covers = metafunc.module.covers
        params = [
            pytest.param(directory, case, id=f"{directory.name}-{case}")
            for directory in sets
            for case in cases_of(directory)
            if covers(case)
        ]
        metafunc.parametrize(("reference", "case"), params, indirect=["reference"])
    else:
        metafunc.parametrize("reference", sets, indirect=True, ids=[d.name for d in sets])


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    directory = fixtures_dir()
    if not (directory / "reference.npz").exists():
        pytest.fail(f"no reference fixtures at {directory}; set LTX_REFERENCE_FIXTURES to a fixture folder")
    return directory


@pytest.fixture(scope="session")
def reference(request, fixture_dir: Path) -> Reference:
    directory = getattr(request, "param", fixture_dir)
    if not (Path(directory) / "reference.npz").exists():
        pytest.fail(f"no reference fixtures at {directory}; set LTX_REFERENCE_FIXTURES to a fixture folder")
    return load_reference(Path(directory))


SHORT_REWRITE_TOKENS = 48


@pytest.fixture
def short_enhancer_rewrites(monkeypatch):
    """Cap prompt-enhancer rewrites at ``SHORT_REWRITE_TOKENS`` new tokens (512 by default): the tiny
    random Gemmas never generate a stop token, and 512 tokens took ~10 s a rewrite on 2 cores."""
    import ltx_core.model.text_encoder.enhance as enhance

    generate = enhance.generate

    def short(model, prompt_ids, max_new_tokens, *args, **kwargs):
        return generate(model, prompt_ids, min(max_new_tokens, SHORT_REWRITE_TOKENS), *args, **kwargs)

    monkeypatch.setattr(enhance, "generate", short)
