"""A stand-in converter until the trained model lands: WORLD re-synthesis.

It does real, CPU-costly streaming work of the same shape as the model path
(F0 over the window, spectral analysis, re-synthesis at 24 kHz): F0 is shifted
by the pitch control, and each 'singer' warps the spectral envelope by a
formant factor, so every live control is audible. Windowed and stateless, so
the engine aligns its chunks with SOLA.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.errors import UserError
from core.features.pitch import shift_f0
from realtime.converter import ConvertResult, ConverterControls

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pyworld imports pkg_resources
    import pyworld

STANDIN_DESCRIPTION = "stand-in converter (no model loaded)"
# singer name -> (formant warp factor, centre of range in Hz for auto-transpose)
STANDIN_SINGERS: dict[str, tuple[float, float]] = {
    "standin-low": (0.87, 130.0),
    "standin-neutral": (1.0, 200.0),
    "standin-high": (1.15, 300.0),
}


class StandInConverter:
    description = STANDIN_DESCRIPTION
    sample_rate = 24000
    hop_length = 128
    uses_sola = True
    retrieval_available = False
    own_latent_scale = None  # no student to sample
    extra_latency_samples = 0
    f0_methods = ["dio", "harvest"]

    def __init__(self, max_context_ms: float = 100.0) -> None:
        self.singers = list(STANDIN_SINGERS)
        self._max_context = int(max_context_ms * self.sample_rate / 1000)
        self._frame_period = 1000.0 * self.hop_length / self.sample_rate
        self.reset()

    def prepare(self, block: int, context: int, lookahead: int) -> None:
        self.reset()

    def reset(self) -> None:
        self._log_f0_avg: float | None = None  # running voiced mean for auto-transpose

    def convert(self, window: np.ndarray, out_start: int, out_len: int,
                controls: ConverterControls) -> ConvertResult:
        if controls.f0_method not in self.f0_methods:
            raise UserError(f"unknown f0 method '{controls.f0_method}' for the stand-in; use one of {self.f0_methods}")
        warp, centre = STANDIN_SINGERS.get(controls.singer or "", STANDIN_SINGERS["standin-neutral"])
        # DIO needs ~100 ms of window to find F0; more context only costs time
        trim = max(0, out_start - self._max_context)
        x = np.asarray(window[trim:], dtype=np.float64)
        start = out_start - trim
        sr, fp = self.sample_rate, self._frame_period
        if controls.f0_method == "harvest":
            f0, t = pyworld.harvest(x, sr, f0_floor=70.0, f0_ceil=1100.0, frame_period=fp)
        else:
            f0, t = pyworld.dio(x, sr, f0_floor=70.0, f0_ceil=1100.0, frame_period=fp)
        f0 = pyworld.stonemask(x, f0, t, sr)
        # envelopes and synthesis only where output is wanted, plus enough frames before it for the
        # synthesis to settle (a pulse response spans half an FFT, 512 samples): the rest of the
        # context served F0 detection alone
        first = max(start // self.hop_length - 6, 0)
        last = min(-(-(start + out_len) // self.hop_length) + 2, len(f0))
        f0, t = np.ascontiguousarray(f0[first:last]), np.ascontiguousarray(t[first:last])
        sp = pyworld.cheaptrick(x, f0, t, sr)
        ap = pyworld.d4c(x, f0, t, sr)
        semitones = controls.pitch + (self._auto_octaves(f0, centre) if controls.auto_transpose else 0.0)
        target = shift_f0(f0, semitones).astype(np.float64)
        y = pyworld.synthesize(target, _warp_envelope(sp, warp), ap, sr, fp)  # starts at frame `first`
        out = np.zeros(out_len, dtype=np.float32)
        offset = start - first * self.hop_length
        piece = y[offset:offset + out_len]
        out[:len(piece)] = piece
        frames = slice(offset // self.hop_length, (offset + out_len) // self.hop_length)
        return ConvertResult(out, f0[frames].astype(np.float32), target[frames].astype(np.float32))

    def _auto_octaves(self, f0: np.ndarray, centre: float) -> float:
        voiced = f0[f0 > 0]
        if len(voiced):
            mean = float(np.mean(np.log2(voiced)))
            self._log_f0_avg = mean if self._log_f0_avg is None else 0.9 * self._log_f0_avg + 0.1 * mean
        if self._log_f0_avg is None:
            return 0.0
        return 12.0 * round(np.log2(centre) - self._log_f0_avg)


def _warp_envelope(sp: np.ndarray, factor: float) -> np.ndarray:
    """Move formants by `factor` (> 1 up) by resampling each envelope along frequency."""
    if factor == 1.0:
        return sp
    bins = sp.shape[1]
    src = np.clip(np.arange(bins) / factor, 0, bins - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    return np.ascontiguousarray(sp[:, lo] * (1 - frac) + sp[:, hi] * frac)
