"""Turn the CLI's INPUT arguments into an ordered list of file jobs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pipelines.processing import FileJob


class InputError(Exception):
    """An INPUT argument that does not exist (a usage error: the CLI exits non-zero)."""


def discover(inputs: Sequence[Path], exclude: Sequence[Path] = ()) -> list[FileJob]:
    """Files under each input folder (recursive, sorted) or the named files, each once.

    Hidden files and folders are skipped, and so is anything under ``exclude`` (e.g. the output
    folder). A symlink is followed only when its target stays inside the input folder, so a link to
    ``/etc`` planted in an inbox cannot pull files from elsewhere into the archive.
    """
    excluded = [p.resolve() for p in exclude]
    jobs: list[FileJob] = []
    seen: set[Path] = set()
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"input not found: {raw}")
        if path.is_file():
            candidates = [(path, path.name)]
        else:
            root = path.resolve()
            candidates = []
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                here = Path(dirpath)
                if any(here == e or e in here.parents for e in excluded):
                    dirnames[:] = []
                    continue
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    f = here / name
                    if f.is_symlink() and root not in f.resolve().parents:
                        continue
                    candidates.append((f, f.relative_to(root).as_posix()))
        for f, display in candidates:
            real = f.resolve()
            if real in seen or not real.is_file():
                continue
            seen.add(real)
            jobs.append(FileJob(path=real, display=display))
    return jobs
