#!/usr/bin/env python3
"""Set up everything on first use, then run the app or the tests (standard library only).

    python3 tasks.py run  [app options]     # the studio on http://127.0.0.1:7860
    python3 tasks.py test [pytest options]  # the test suite

Creates ``.venv`` beside this file, installs requirements.txt into it (again whenever the
file changes) and, on Linux, Debian's OpenBLAS (MLX's CPU build is 30-80x slower without it)
and, for the tests, Debian's Chromium (the browser tests drive it with Playwright).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".requirements-sha256"
OPENBLAS = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
)


def say(message: str) -> None:
    print(f"[tasks] {message}", flush=True)


def apt_install(*packages: str) -> bool:
    """Install Debian packages when we may (root, or password-less sudo); False otherwise."""
    if not shutil.which("apt-get"):
        return False
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo") or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode:
            return False
        prefix = ["sudo", "-n"]
    say(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL)
    return subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", *packages], env=env).returncode == 0


def ensure_openblas() -> None:
    if not sys.platform.startswith("linux") or any(os.path.exists(p) for p in OPENBLAS):
        return
    if not apt_install("libopenblas0-pthread"):
        say("warning: could not install libopenblas0-pthread (needs root or sudo); MLX will run 30-80x slower")


def ensure_chromium() -> list[str]:
    """Debian's Chromium for the browser tests (the playwright package drives it; no `playwright
    install`). Installed silently only in CI; elsewhere the browser tests are skipped with a note.
    Returns extra pytest arguments."""
    if shutil.which("chromium") or os.environ.get("LTX_CHROMIUM"):
        return []
    if os.environ.get("CI", "").lower() == "true" and sys.platform.startswith("linux"):
        if apt_install("chromium"):
            return []
        say("warning: could not install chromium (needs root or sudo); the browser tests will fail")
        return []
    say("no chromium found: skipping the browser tests (install Debian's chromium, or set LTX_CHROMIUM to a "
        "Chromium binary, to run them)")
    return ["-m", "not browser"]


def ensure_venv() -> None:
    if not PYTHON.exists():
        say(f"creating {VENV}")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            version = f"python3.{sys.version_info.minor}-venv"
            if not apt_install(version, "python3-venv"):
                sys.exit(f"could not create a virtual environment; install the venv module ({version}) and retry")
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    say("installing requirements (first run only)")
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], check=True)
    STAMP.write_text(digest)


def parallel_workers(extra: list[str]) -> list[str]:
    """pytest-xdist options: one worker per core (at most 4), each test file kept on one worker so
    its module fixtures (a studio server, a loaded model) are built once; prints are captured per
    test and echoed by tests/conftest.py as they finish. ``-n 0`` (or any ``-n``) overrides it."""
    if any(arg.startswith(("-n", "--numprocesses")) for arg in extra):
        return []
    workers = min(4, os.cpu_count() or 1)
    return ["-n", str(workers), "--dist", "loadfile", "--capture=fd"] if workers > 1 else []


def main() -> int:
    if sys.version_info < (3, 10):
        sys.exit("Python 3.10 or newer is needed")
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__)
        return 2
    command, extra = sys.argv[1], sys.argv[2:]
    ensure_openblas()
    ensure_venv()
    os.chdir(ROOT)
    if command == "run":
        args = [str(PYTHON), "app.py", *extra]
    else:
        skip = ensure_chromium() if "-m" not in extra else []
        args = [str(PYTHON), "-m", "pytest", *skip, *parallel_workers(extra), *extra]
    try:
        return subprocess.run(args).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
