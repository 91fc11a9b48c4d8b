"""The LTX-2.5 reference set for the 2.5-only tests, and safetensors header surgery.

Every parity module runs on ``tests/reference/ltx-2.5`` through the conftest parametrisation;
the 2.5-only tests find the set themselves: ``LTX_REFERENCE_FIXTURES`` when it names a 2.5 set
(a folder with ``diffusion_models/``), else ``tests/reference/ltx-2.5``, else
``<repo>/../shared/fixtures-2.5``.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tests.conftest import ROOT, Reference, load_reference

SKIP_REASON = "no LTX-2.5 reference set (LTX_REFERENCE_FIXTURES, tests/reference/ltx-2.5 or ../shared/fixtures-2.5)"


def ltx25_directory() -> Path | None:
    configured = os.environ.get("LTX_REFERENCE_FIXTURES")
    candidates = [Path(configured)] if configured else []
    candidates += [ROOT / "tests" / "reference" / "ltx-2.5", ROOT.parent / "shared" / "fixtures-2.5"]
    for directory in candidates:
        if (directory / "diffusion_models").is_dir() and (directory / "reference.npz").is_file():
            return directory.resolve()
    return None


def ltx25_reference() -> Reference:
    """The 2.5 set (for a module-scoped fixture); skips the test when there is none."""
    directory = ltx25_directory()
    if directory is None:
        pytest.skip(SKIP_REASON)
    return load_reference(directory)


def recorded_ltx25_reference() -> Reference:
    """The 2.5 set this repository's own recorded references (``tests/data/*.npz``, made with the
    official code) were made on: always the in-repo copy, whatever ``LTX_REFERENCE_FIXTURES``
    names, since another set has other weights."""
    directory = ROOT / "tests" / "reference" / "ltx-2.5"
    if not (directory / "diffusion_models").is_dir():
        pytest.skip("no in-repo LTX-2.5 set (tests/reference/ltx-2.5), which the recorded references need")
    return load_reference(directory.resolve())


def component_file(reference: Reference, folder: str) -> Path:
    files = sorted((reference.directory / folder).glob("*.safetensors"))
    assert len(files) == 1, f"{reference.directory / folder}: expected one .safetensors file, found {len(files)}"
    return files[0]


def rewrite_safetensors(
    source: Path,
    target: Path,
    metadata: Callable[[dict[str, str]], dict[str, str]] | None = None,
    drop: Iterable[str] = (),
    alias: dict[str, str] | None = None,
) -> Path:
    """Copy ``source`` with an edited header: ``metadata`` maps the old metadata to the new,
    ``drop`` removes tensors, ``alias`` adds ``new key -> existing key`` entries sharing its bytes."""
    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    meta = header.pop("__metadata__", {}) or {}
    if metadata is not None:
        meta = metadata(dict(meta))
    for key in drop:
        del header[key]
    for new, existing in (alias or {}).items():
        header[new] = dict(header[existing])
    header["__metadata__"] = meta
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    target.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])
    return target
