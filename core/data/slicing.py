"""Cut long recordings into clips on silence, streaming over the file.

The file is read in blocks (soundfile), only a frame-energy envelope (one
float per 20 ms) is kept, so a 3-hour file costs about 2 MB of envelope, not
1 GB of samples. Blocks are whole numbers of frames, so the envelope (and so
every cut) is the same as that of the whole array read at once: a sound that
straddles a block join is never split by it.

Cut points: a silence longer than `max_silence_kept` separates clips and is
dropped except `pad` seconds at each side (like the file's leading and
trailing silence); a shorter silence of at least `min_silence` is a cut point
at its middle, taken once the clip is `target_seconds` long. A stretch longer
than `max_seconds` with no allowed cut is split into equal pieces.
"""

from __future__ import annotations

import math
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
    max_silence_kept: float = 1.0  # longer silences are removed (keeping `pad` each side)


@dataclass(frozen=True)
class Segment:
    start: int  # samples at the file's own rate
    stop: int


def frame_length(rate: int) -> int:
    return max(int(rate * FRAME_SECONDS), 1)


def _frame_rms(mono: np.ndarray, frame: int) -> np.ndarray:
    """RMS of each whole frame, plus one for a trailing partial frame."""
    usable = len(mono) // frame * frame
    parts = []
    if usable:
        parts.append(np.sqrt(np.mean(np.square(mono[:usable].reshape(-1, frame), dtype=np.float64), axis=1)))
    if len(mono) > usable:
        parts.append(np.sqrt(np.mean(np.square(mono[usable:], dtype=np.float64), keepdims=True)))
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def envelope_of(audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """(RMS per frame, frame length) of mono audio already in memory."""
    frame = frame_length(rate)
    return _frame_rms(np.asarray(audio, dtype=np.float32), frame), frame


def frame_energy(path: str | os.PathLike, block_seconds: float = BLOCK_SECONDS) -> tuple[np.ndarray, int, int]:
    """(RMS per frame, frame length in samples, sample rate), read block by block."""
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            frame = frame_length(rate)
            block = frame * max(int(round(block_seconds / FRAME_SECONDS)), 1)  # whole frames: joins fall on frame edges
            energies = []
            for data in handle.blocks(blocksize=block, dtype="float32", always_2d=True):
                mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
                if not np.all(np.isfinite(mono)):
                    raise AudioFileError(f"{path}: contains non-finite samples")
                energies.append(_frame_rms(mono, frame))  # only the last block can end in a partial frame
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: cannot read audio ({str(exc).splitlines()[0]})") from None
    envelope = np.concatenate(energies) if energies else np.zeros(0, np.float32)
    return envelope, frame, rate


def find_segments(envelope: np.ndarray, frame: int, rate: int, settings: SliceSettings) -> list[Segment]:
    """Segments (in samples) of the non-silent parts, cut as the module docstring says."""
    if envelope.size == 0 or float(envelope.max()) <= 0.0:
        return []
    threshold = float(envelope.max()) * 10 ** (settings.silence_db / 20)
    loud = envelope > threshold
    per_second = rate / frame
    frames = lambda seconds: int(round(seconds * per_second))  # noqa: E731
    pad, min_gap = frames(settings.pad), max(frames(settings.min_silence), 1)
    long_gap = max(frames(settings.max_silence_kept), min_gap, 2 * pad)  # padded edges never overlap
    target, longest = frames(settings.target_seconds), max(frames(settings.max_seconds), 1)

    bounds = []
    for start, stop, cuts in _regions(loud, pad, min_gap, long_gap):
        bounds.extend(_cut_region(start, stop, cuts, target, longest))
    return [Segment(a * frame, b * frame) for a, b in bounds if b > a and loud[a:b].any()]


def _quiet_runs(loud: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) frame ranges of every run of quiet frames."""
    change = np.diff(np.concatenate([[1], loud.astype(np.int8), [1]]))
    return list(zip(np.flatnonzero(change == -1).tolist(), np.flatnonzero(change == 1).tolist()))


def _regions(loud: np.ndarray, pad: int, min_gap: int, long_gap: int) -> list[tuple[int, int, list[int]]]:
    """(start, stop, allowed cuts) of the stretches between long silences, each padded by `pad`.

    `loud` must hold at least one loud frame.
    """
    n = len(loud)
    regions: list[tuple[int, int, list[int]]] = []
    start, cuts = 0, []
    for a, b in _quiet_runs(loud):
        if a == 0:  # leading silence
            start = max(b - pad, 0)
        elif b == n or b - a > long_gap:  # trailing or long silence: close the region
            regions.append((start, min(a + pad, n), cuts))
            start, cuts = max(b - pad, 0), []
        elif b - a >= min_gap:
            cuts.append((a + b) // 2)
    if loud[-1]:  # loud up to the end of the file
        regions.append((start, n, cuts))
    return regions


def _cut_region(start: int, stop: int, cuts: list[int], target: int, longest: int) -> list[tuple[int, int]]:
    """Greedy cuts at allowed points once a clip reaches `target`; equal hard cuts where none fits `longest`."""
    bounds: list[tuple[int, int]] = []
    previous = None  # the last allowed cut not yet taken
    for cut in cuts + [stop]:
        if cut - start > longest and previous is not None:
            bounds.append((start, previous))
            start, previous = previous, None
        if cut - start > longest:
            pieces = math.ceil((cut - start) / longest)
            edges = [start + round(k * (cut - start) / pieces) for k in range(pieces + 1)]
            bounds.extend(zip(edges[:-1], edges[1:]))
            start = cut
        elif cut == stop or cut - start >= target:
            if cut > start:
                bounds.append((start, cut))
            start, previous = cut, None
        else:
            previous = cut
    return bounds


def read_segment(path: str | os.PathLike, segment: Segment) -> np.ndarray:
    """Mono float32 samples of one segment at the file's own rate."""
    try:
        data, _ = sf.read(str(path), start=segment.start, stop=segment.stop, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: cannot read audio ({str(exc).splitlines()[0]})") from None
    return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
