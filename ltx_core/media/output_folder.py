"""The folder finished outputs go to: writable before a job starts (not after minutes of work),
and free of the temporary files a killed writer leaves behind."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from ltx_core.media.errors import MediaWriteError

# Temporary names of the mp4/wav/sidecar writers: ".<stem>.<12 hex>.part.<ext>".
PARTIAL = re.compile(r"^\..+\.[0-9a-f]{12}\.part\.(mp4|wav|json)$")


def check_writable(folder: str | os.PathLike) -> Path:
    """``folder``, created if missing; one sentence saying which folder and why when it cannot be
    written."""
    folder = Path(folder).expanduser()
    advice = "choose another folder (--outputs-dir) or fix its permissions."
    if folder.exists() and not folder.is_dir():
        raise MediaWriteError(f"the outputs folder {folder} is a file, not a folder: {advice}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaWriteError(f"the outputs folder {folder} cannot be created ({exc.strerror or exc}): {advice}") from None
    probe = folder / f".write-check-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise MediaWriteError(f"the outputs folder {folder} cannot be written ({exc.strerror or exc}): {advice}") from None
    return folder


def remove_partial_outputs(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writes that never finished (a killed process); returns them."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if PARTIAL.match(path.name) and path.is_file():
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed
