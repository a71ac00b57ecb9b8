"""Reading and writing audio files.

Anything libsndfile reads (wav, flac, ogg, mp3, aiff, ...) at any rate and
channel count comes back as mono float32 at the rate the caller asks for.
Every problem with the file itself becomes one `AudioFileError` line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.resample import resample
from core.checkpoint import atomic_write
from core.errors import AudioFileError

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


def save_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono (T,) or multi-channel (T, C) audio atomically; format from the extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITE_FORMATS:
        known = ", ".join(sorted(_WRITE_FORMATS))
        raise AudioFileError(f"cannot write '{path.name}': unknown audio extension (use one of {known})")
    data = np.asarray(audio.detach().cpu().numpy() if hasattr(audio, "detach") else audio, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise AudioFileError(f"cannot write '{path.name}': audio must be (T,) or (T, C), got shape {data.shape}")
    if not np.isfinite(data).all():
        raise AudioFileError(f"refusing to write '{path.name}': audio contains NaN or infinite samples")
    fmt, subtype = _WRITE_FORMATS[suffix]
    if subtype != "FLOAT":
        data = np.clip(data, -1.0, 1.0)  # integer and lossy codecs cannot hold values past full scale
    atomic_write(path, lambda tmp: sf.write(tmp, data, int(sample_rate), format=fmt, subtype=subtype))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
