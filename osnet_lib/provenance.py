"""Where a result came from: recipe, seed, versions, git commit and machine.

Every experiment of the book and every training run writes this next to its results, so that a
number can be traced to the code and settings that produced it (DESIGN: "results are data").
"""

import contextlib
import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

# The profiles live in recipes (one table); re-exported here for code that reads them beside
# provenance.
from osnet_lib.recipes import PROFILES, check_profile  # noqa: F401


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the checkout holding ``path`` (this package by default), with ``+dirty``
    when tracked files differ from it, or None outside a git checkout."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    """Library, torch and Python versions, and the machine (CPU count, CUDA device if any)."""
    import numpy
    import torch

    import osnet_lib

    info: dict[str, Any] = {
        "osnet_lib": osnet_lib.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def provenance(recipe: dict[str, Any] | None = None, seed: int | None = None,
               **extra: Any) -> dict[str, Any]:
    """A JSON-ready record of a run: UTC time, git commit, environment, recipe and seed."""
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "environment": environment(),
        "recipe": recipe,
        "seed": seed,
        **extra,
    }


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file so that readers never see it half-written: ``write`` fills a temporary file
    in the same folder (a unique name ``.<name>.<random>.tmp``, so two writers never share
    one), which is flushed, synced and renamed over ``path``. The file gets the ordinary
    permissions of a new file (``0o666`` less the umask), not the private ``0o600`` of a
    temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask: read from /proc on Linux (setting it, the portable way to read
    it, would change it for every thread for a moment)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON with :func:`atomic_write`."""
    text = json.dumps(data, indent=2, default=_jsonable) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


#: Name of the lock file that :func:`exclusive_lock` holds inside a folder.
LOCK_NAME = ".lock"


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock (:func:`exclusive_lock`)."""


@contextlib.contextmanager
def exclusive_lock(folder: str | Path, name: str = LOCK_NAME) -> Iterator[Path]:
    """Own ``folder`` while the ``with`` block runs: an exclusive ``flock`` on
    ``<folder>/<name>`` (``.lock`` by default), taken without waiting. Different names are
    independent locks (the result store claims a run with ``.claim`` while the trainer owns the
    run folder with ``.lock``).

    The operating system releases the lock when the holder exits or is killed, so a crash never
    leaves a folder locked. The lock file keeps the holder's host and process id, which the
    error names. Works between processes on one machine and, where the file system supports
    ``flock`` (local disks; NFS v4 and most cluster file systems), between machines.

    Raises:
        FolderLockedError: another process holds the lock.
    """
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise FolderLockedError(f"{folder} is in use by {holder}; wait for it to finish, "
                                    "or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
