"""Reading and writing audio files.

Anything libsndfile reads (wav, flac, ogg, mp3, aiff, ...) at any rate and
channel count comes back as mono float32 at the rate the caller asks for.
Every problem with the file itself becomes one `AudioFileError` line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.resample import resample
from core.audio.truncation import check_not_truncated
from core.checkpoint import atomic_write
from core.errors import AudioFileError, UserError

# The shortest audio any command converts, analyses or resynthesises: below this the STFT window
# (and Griffin-Lim's padding) does not fit, and no pitch tracker sees a whole period of a low voice.
MIN_AUDIO_SECONDS = 0.1

# Extension -> (libsndfile format, subtype); the subtype keeps float data intact where it can.
_WRITE_FORMATS: dict[str, tuple[str, str | None]] = {
    ".wav": ("WAV", "FLOAT"),
    ".flac": ("FLAC", "PCM_24"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".aiff": ("AIFF", "FLOAT"),
    ".aif": ("AIFF", "FLOAT"),
}


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Load `path` as mono float32 at `sample_rate` (channels averaged, resampled)."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioFileError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path} is empty (0 bytes)")
    check_not_truncated(path)
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioFileError(f"{path} is not a readable audio file: {_first_line(exc)}") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path} holds no audio (0 samples)")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{path} contains NaN or infinite samples")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    mono = resample(np.ascontiguousarray(mono), int(file_rate), int(sample_rate))
    return np.ascontiguousarray(mono, dtype=np.float32)


def require_min_length(audio: np.ndarray, sample_rate: int, source: str | os.PathLike) -> None:
    """AudioFileError unless `audio` lasts at least MIN_AUDIO_SECONDS (the one check every command uses)."""
    seconds = len(audio) / float(sample_rate)
    if len(audio) + 1 < MIN_AUDIO_SECONDS * sample_rate:  # one sample of slack for resampling's rounding
        raise AudioFileError(
            f"{source} is too short: it holds {round(1000 * seconds, 1):g} ms of audio, "
            f"at least {1000 * MIN_AUDIO_SECONDS:.0f} ms are needed"
        )


def check_output_folder(folder: str | os.PathLike, option: str = "--out") -> None:
    """Before any work: UserError unless files can be created in `folder` (made later if missing)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{option} {folder} is a file, not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot create {option} {folder}: {existing} is a file, not a folder")
    try:  # a real probe: permission bits alone miss read-only mounts and mean nothing to root
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UserError(f"cannot write to {option} {folder}: {exc.strerror or exc}") from None


def check_output_file(path: str | os.PathLike, option: str = "--out") -> None:
    """Before any work: UserError unless `path` names an audio file that can be written."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name such as {path / 'out.wav'}")
    _write_format(path)
    check_output_folder(path.parent, option)


def _write_format(path: Path) -> tuple[str, str | None]:
    suffix = path.suffix.lower()
    if suffix not in _WRITE_FORMATS:
        known = ", ".join(sorted(_WRITE_FORMATS))
        raise AudioFileError(f"cannot write '{path.name}': unknown audio extension (use one of {known})")
    return _WRITE_FORMATS[suffix]


def save_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono (T,) or multi-channel (T, C) audio atomically; format from the extension."""
    path = Path(path)
    fmt, subtype = _write_format(path)
    data = np.asarray(audio.detach().cpu().numpy() if hasattr(audio, "detach") else audio, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise AudioFileError(f"cannot write '{path.name}': audio must be (T,) or (T, C), got shape {data.shape}")
    if not np.isfinite(data).all():
        raise AudioFileError(f"refusing to write '{path.name}': audio contains NaN or infinite samples")
    if subtype != "FLOAT":
        data = np.clip(data, -1.0, 1.0)  # integer and lossy codecs cannot hold values past full scale
    if path.is_dir():
        raise AudioFileError(f"cannot write {path}: a folder has that name")
    try:
        atomic_write(path, lambda tmp: sf.write(tmp, data, int(sample_rate), format=fmt, subtype=subtype))
    except (OSError, sf.LibsndfileError) as exc:  # a full disk, a folder gone read-only: nothing is left behind
        raise AudioFileError(f"cannot write {path}: {getattr(exc, 'strerror', None) or _first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
