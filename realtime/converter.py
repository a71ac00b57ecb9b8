"""The converter plugin interface: what the engine needs from a voice converter.

The engine keeps a sliding 24 kHz window per block: cached left context, the
audio to convert, and a small right lookahead. It calls

    convert(window, out_start, out_len, controls) -> ConvertResult

and the converter returns its converted audio for window[out_start:out_start+out_len].

Two kinds of converter fit:
- uses_sola = True (windowed, stateless, e.g. the WORLD stand-in): regions of
  consecutive calls overlap by crossfade + SOLA search samples; the engine
  aligns and crossfades them.
- uses_sola = False (stateful, e.g. the one-step student + a vocoder carrying
  its phase): regions are contiguous, exactly one block each; the converter
  computes features over the whole window, runs the model on its frames (noise
  anchored to absolute frame index), vocodes only the new frames with state
  and returns them. Its delay beyond the window geometry (the vocoder's) is
  `extra_latency_samples`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ConverterControls:
    singer: str | None = None
    pitch: float = 0.0            # semitones, fractional allowed
    auto_transpose: bool = False  # move by octaves towards the singer's range
    f0_method: str = "dio"
    retrieval: float = 0.0        # feature-retrieval ratio; converters without an index ignore it
    latent_scale: float | None = None  # the student's starting-noise scale; None = the model's own


@dataclass
class ConvertResult:
    audio: np.ndarray       # float32 (out_len,) at the converter's sample_rate
    f0_in: np.ndarray       # per frame of the region (Hz, 0 unvoiced)
    f0_target: np.ndarray   # the F0 the converter was driven with


@runtime_checkable
class Converter(Protocol):
    description: str            # shown in status lines, e.g. "stand-in converter (no model loaded)"
    sample_rate: int            # 24000
    hop_length: int             # frame hop, for F0 arrays
    singers: list[str]
    f0_methods: list[str]
    uses_sola: bool
    extra_latency_samples: int
    retrieval_available: bool   # whether controls.retrieval does anything (a model with an index)
    own_latent_scale: float | None  # the model's own student latent scale; None: no student (controls' is ignored)

    def prepare(self, block: int, context: int, lookahead: int) -> None:
        """Called before streaming (and on a block-size change), sizes in samples."""

    def convert(self, window: np.ndarray, out_start: int, out_len: int,
                controls: ConverterControls) -> ConvertResult: ...

    def reset(self) -> None:
        """Forget streaming state (after a drop or a seek)."""

    # Optional: prepare_f0_method(name) makes a pitch tracker ahead of a switch to it. The engine calls it
    # on a thread of its own and switches when it returns, so a tracker that loads slowly never stalls
    # the worker (realtime.model_converter has it; the stand-in has nothing to load).


def tracker_for(converter: Converter, asked: str) -> str:
    """The pitch tracker `converter` runs when `asked` is asked for: that one if it offers it, else its
    own first (after a hot swap to a converter without it, e.g. a model's FCPE, then the stand-in)."""
    methods = converter.f0_methods
    return asked if asked in methods or not methods else methods[0]
