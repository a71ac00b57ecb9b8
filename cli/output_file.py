"""The check every command that writes a model or vocoder file makes before any work starts."""

from __future__ import annotations

from pathlib import Path

from core.errors import UserError


def check_output_file(out: str | Path, force: bool) -> Path:
    """`out` as a Path; UserError if it is a folder, or exists and `force` was not given."""
    out = Path(out)
    if out.is_dir():
        raise UserError(f"cannot write {out}: a folder has that name")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    return out
