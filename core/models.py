"""Where model files live and which one the app uses when none is named.

Search order: the folders in $COMOSVC_MODEL_PATH (os.pathsep-separated), then
the user's folder (~/.local/share/comosvc/models), then the `models/` folder
shipped with the app. The default model is `models/default.safetensors`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelFileError, UserError

SHIPPED_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL_NAME = "default.safetensors"


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    singers: list[str]
    config_name: str


def model_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("COMOSVC_MODEL_PATH", "").split(os.pathsep) if p]
    dirs.append(Path.home() / ".local" / "share" / "comosvc" / "models")
    dirs.append(SHIPPED_MODELS_DIR)
    return dirs


def default_model_path() -> Path | None:
    """The shipped default model, or None where it is not there."""
    path = SHIPPED_MODELS_DIR / DEFAULT_MODEL_NAME
    return path if path.is_file() else None


def resolve_model(path: str | os.PathLike | None) -> Path:
    """The model file to use: the one given, else the default; a clear error if neither."""
    if path is not None:
        candidate = Path(path)
        if candidate.is_file():
            return candidate
        for folder in model_dirs():
            named = folder / candidate.name
            if named.is_file():
                return named
            if (folder / f"{candidate.name}.safetensors").is_file():
                return folder / f"{candidate.name}.safetensors"
        raise ModelFileError(f"model file not found: {path}")
    default = default_model_path()
    if default is None:
        raise UserError(f"no model given and no default model at {SHIPPED_MODELS_DIR / DEFAULT_MODEL_NAME}")
    return default


def describe_model(path: Path) -> ModelInfo:
    from core.checkpoint import read_metadata  # torch: not needed to list the search folders in --help

    meta = read_metadata(path)
    if meta.get("kind") != "model":
        raise ModelFileError(f"{path} holds a '{meta.get('kind')}', not a conversion model")
    return ModelInfo(
        path=path,
        name=path.stem,
        singers=list(meta.get("singers", [])),
        config_name=str(meta.get("config", {}).get("name", "?")),
    )


def list_models() -> tuple[list[ModelInfo], list[str]]:
    """Every readable conversion model in the search folders, and one line per file that is not."""
    models: list[ModelInfo] = []
    problems: list[str] = []
    seen: set[Path] = set()
    for folder in model_dirs():
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                models.append(describe_model(path))
            except ModelFileError as exc:
                problems.append(str(exc))
    return models, problems
