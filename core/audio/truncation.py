"""Telling a cut-off audio file from a short one.

libsndfile quietly reads whatever a WAV or AIFF file still holds, so a copy or
download that stopped half-way would pass as a shorter recording (a 0.00 s
conversion, 0 analysed frames). The header still says how much audio there
should be; comparing it with what is there tells the user what happened.
Compressed formats (FLAC, Ogg, MP3) fail to decode instead, and say so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import AudioFileError

_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # a stream whose writer never filled the size in: not a cut


@dataclass(frozen=True)
class Truncation:
    promised_seconds: float  # what the header announces
    held_seconds: float      # what the file actually holds


def truncation(path: str | os.PathLike) -> Truncation | None:
    """What a cut-off WAV or AIFF file promises and holds; None for any other file."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) == 12 and head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
                return _wav(handle, path.stat().st_size, "big" if head[:4] == b"RIFX" else "little")
            if len(head) == 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                return _aiff(handle, path)
    except OSError:
        return None
    return None


def check_not_truncated(path: str | os.PathLike) -> None:
    """AudioFileError naming what a cut-off file promises and holds."""
    cut = truncation(path)
    if cut is not None:
        raise AudioFileError(
            f"{path} is truncated: its header promises {cut.promised_seconds:.2f} s of audio but the file holds "
            f"{cut.held_seconds:.2f} s (an interrupted copy, download or recording?)"
        )


def _chunks(handle, size: int, order: str):
    """(id, start of data, declared length) of each chunk after the 12-byte file header."""
    pos = 12
    while pos + 8 <= size:
        handle.seek(pos)
        header = handle.read(8)
        length = int.from_bytes(header[4:8], order)
        yield header[:4], pos + 8, length
        pos += 8 + length + (length & 1)


def _wav(handle, size: int, order: str) -> Truncation | None:
    byte_rate = 0
    for name, start, length in _chunks(handle, size, order):
        if name == b"fmt ":
            handle.seek(start + 8)
            byte_rate = int.from_bytes(handle.read(4), order)
        elif name == b"data":
            held = size - start
            if length in _UNKNOWN_SIZES or held >= length or byte_rate <= 0:
                return None
            return Truncation(length / byte_rate, held / byte_rate)
    return None


def _aiff(handle, path: Path) -> Truncation | None:
    import soundfile as sf

    for name, start, _ in _chunks(handle, path.stat().st_size, "big"):
        if name == b"COMM":
            handle.seek(start + 2)
            promised = int.from_bytes(handle.read(4), "big")
            try:
                info = sf.info(str(path))
            except (sf.LibsndfileError, RuntimeError):
                return None  # unreadable: load_audio says so
            if promised in _UNKNOWN_SIZES or info.frames >= promised or info.samplerate <= 0:
                return None
            return Truncation(promised / info.samplerate, info.frames / info.samplerate)
    return None
