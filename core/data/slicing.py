"""Cut long recordings into clips on silence, streaming over the file.

The file is read in blocks (soundfile), only a frame-energy envelope (one
float per 20 ms) is kept, so a 3-hour file costs about 2 MB of envelope, not
1 GB of samples. Cut points are the middles of silences at least
`min_silence` long; a stretch with no such silence is cut at `max_seconds`.
Leading and trailing silence is trimmed (keeping `pad` seconds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from core.errors import AudioFileError

FRAME_SECONDS = 0.02
BLOCK_SECONDS = 30.0


@dataclass(frozen=True)
class SliceSettings:
    silence_db: float = -40.0  # relative to the loudest frame of the file
    min_silence: float = 0.3  # seconds of silence that allow a cut
    target_seconds: float = 8.0  # cut at the first allowed point after this long
    max_seconds: float = 15.0  # hard cut when no silence comes
    pad: float = 0.1  # seconds of silence kept at each trimmed edge


@dataclass(frozen=True)
class Segment:
    start: int  # samples at the file's own rate
    stop: int


def frame_energy(path: str | os.PathLike) -> tuple[np.ndarray, int, int]:
    """(RMS per frame, frame length in samples, sample rate), read block by block."""
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            frame = max(int(rate * FRAME_SECONDS), 1)
            block = frame * max(int(BLOCK_SECONDS / FRAME_SECONDS), 1)
            energies = []
            for data in handle.blocks(blocksize=block, dtype="float32", always_2d=True):
                mono = data.mean(axis=1)
                if not np.all(np.isfinite(mono)):
                    raise AudioFileError(f"{path}: contains non-finite samples")
                usable = len(mono) // frame * frame
                if usable:
                    energies.append(np.sqrt(np.mean(mono[:usable].reshape(-1, frame) ** 2, axis=1)))
                if len(mono) > usable:  # only the very last block can end in a partial frame
                    energies.append(np.sqrt(np.mean(mono[usable:] ** 2, keepdims=True)))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: cannot read audio ({str(exc).splitlines()[0]})") from None
    envelope = np.concatenate(energies) if energies else np.zeros(0, np.float32)
    return envelope.astype(np.float32), frame, rate


def find_segments(envelope: np.ndarray, frame: int, rate: int, settings: SliceSettings) -> list[Segment]:
    """Segments (in samples) of the non-silent parts, cut as the module docstring says."""
    if envelope.size == 0 or float(envelope.max()) <= 0.0:
        return []
    threshold = float(envelope.max()) * 10 ** (settings.silence_db / 20)
    loud = envelope > threshold
    loud_idx = np.flatnonzero(loud)
    first, last = int(loud_idx[0]), int(loud_idx[-1]) + 1
    per_second = rate / frame
    pad = int(round(settings.pad * per_second))
    min_gap = max(int(round(settings.min_silence * per_second)), 1)
    target = int(round(settings.target_seconds * per_second))
    longest = max(int(round(settings.max_seconds * per_second)), 1)

    cuts = _silence_middles(loud, first, last, min_gap)
    bounds, start = [], max(first - pad, 0)
    for cut in cuts + [None]:
        # Hard cuts while the next allowed cut (or the end) is too far away.
        goal = min(last + pad, len(loud)) if cut is None else cut
        while goal - start > longest:
            bounds.append((start, start + longest))
            start += longest
        if cut is None:
            bounds.append((start, goal))
        elif cut - start >= target:
            bounds.append((start, cut))
            start = cut
    return [Segment(a * frame, b * frame) for a, b in bounds if b > a and loud[a:b].any()]


def _silence_middles(loud: np.ndarray, first: int, last: int, min_gap: int) -> list[int]:
    """Frame indices in the middle of each quiet run of >= min_gap frames inside [first, last)."""
    inner = loud[first:last]
    change = np.diff(np.concatenate([[1], inner.astype(np.int8), [1]]))
    starts, stops = np.flatnonzero(change == -1), np.flatnonzero(change == 1)
    return [first + int((a + b) // 2) for a, b in zip(starts, stops) if b - a >= min_gap]


def read_segment(path: str | os.PathLike, segment: Segment) -> np.ndarray:
    """Mono float32 samples of one segment at the file's own rate."""
    try:
        data, _ = sf.read(str(path), start=segment.start, stop=segment.stop, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: cannot read audio ({str(exc).splitlines()[0]})") from None
    return data.mean(axis=1)
