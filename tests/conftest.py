"""Shared test set-up: fixture location, reference arrays and the parity check."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx_core  # noqa: E402,F401  (loads OpenBLAS before mlx)


def fixtures_dir() -> Path:
    configured = os.environ.get("LTX_REFERENCE_FIXTURES")
    return Path(configured).resolve() if configured else (ROOT.parent / "shared" / "fixtures").resolve()


class Reference:
    """``reference.npz`` of a fixture set, with helpers to list cases and keys."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._npz = np.load(directory / "reference.npz")
        self.keys = sorted(self._npz.files)

    def __getitem__(self, key: str) -> np.ndarray:
        return self._npz[key]

    def __contains__(self, key: str) -> bool:
        return key in self._npz.files

    def cases(self) -> list[str]:
        return sorted({key.split("/", 1)[0] for key in self.keys})

    def keys_of(self, case: str, group: str | None = None) -> list[str]:
        prefix = f"{case}/" if group is None else f"{case}/{group}/"
        return [key for key in self.keys if key.startswith(prefix)]

    @property
    def checkpoint(self) -> Path:
        return self.directory / "ltx2-tiny.safetensors"


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    directory = fixtures_dir()
    if not (directory / "reference.npz").exists():
        pytest.fail(f"no reference fixtures at {directory}; set LTX_REFERENCE_FIXTURES to the fixture folder")
    return directory


@pytest.fixture(scope="session")
def reference(fixture_dir: Path) -> Reference:
    return Reference(fixture_dir)


def reference_cases() -> list[str]:
    """Case names for parametrisation at collection time (empty if fixtures are missing)."""
    path = fixtures_dir() / "reference.npz"
    if not path.exists():
        return []
    with np.load(path) as npz:
        return sorted({key.split("/", 1)[0] for key in npz.files})
