"""Input perturbations for training the built-in content encoder.

The encoder should hear WHAT is sung, not WHO sings it. Training it on
audio whose speaker cues were randomly moved (while its target stays the
same) teaches it to ignore those cues (the NANSY / so-vits "perturbed input"
idea):

- formant shift: the WORLD spectral envelope is stretched on the frequency
  axis (vocal-tract length is the main timbre cue), pitch kept;
- pitch shift: WORLD re-synthesis with a scaled f0, envelope kept;
- random EQ: a low shelf, a high shelf and a few parametric peaks (the
  microphone / room colour), as biquads on the audio; or, cheaper, a smooth
  random gain curve added to the log-mel;
- random band limit: the log-mel above a random cut-off lowered by 80 dB (never
  below its clamp), as if the audio had been recorded at a lower sample rate.

Every function keeps the length of its input (so the mel frame count is
unchanged) and draws its randomness from a torch.Generator only, so a seed
reproduces the same perturbation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyworld
import scipy.signal
import torch

from core.config import Config


@dataclass(frozen=True)
class PerturbSettings:
    formant: float  # formant ratio drawn log-uniformly in [1/formant, formant]
    pitch: float  # pitch shift drawn uniformly in [-pitch, pitch] semitones
    eq_db: float  # EQ band gains drawn uniformly in [-eq_db, eq_db] dB

    @classmethod
    def from_config(cls, cfg: Config) -> "PerturbSettings":
        f = cfg.features
        return cls(f.perturb_formant, f.perturb_pitch, f.perturb_eq_db)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _as_numpy(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        return audio.detach().cpu().numpy().astype(np.float64)
    return np.asarray(audio, dtype=np.float64)


def _like(result: np.ndarray, original: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    result = result.astype(np.float32)
    if isinstance(original, torch.Tensor):
        return torch.from_numpy(result).to(original.device)
    return result


def warp_envelope(envelope: np.ndarray, ratio: float) -> np.ndarray:
    """(frames, bins) spectral envelope stretched in frequency: out(f) = in(f / ratio)."""
    bins = envelope.shape[1]
    source = np.clip(np.arange(bins) / ratio, 0, bins - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, bins - 1)
    frac = source - low
    return np.ascontiguousarray(envelope[:, low] * (1 - frac) + envelope[:, high] * frac)


def world_shift(
    audio: np.ndarray | torch.Tensor,
    sample_rate: int,
    semitones: float = 0.0,
    formant_ratio: float = 1.0,
    frame_period_ms: float = 5.0,
    f0_floor: float = 50.0,
    f0_ceil: float = 1100.0,
) -> np.ndarray | torch.Tensor:
    """Pitch shift and formant shift via WORLD analysis/re-synthesis; same length out."""
    x = _as_numpy(audio)
    if x.size == 0:
        return _like(x, audio)
    f0, times = pyworld.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=frame_period_ms)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    if formant_ratio != 1.0:
        envelope = warp_envelope(envelope, formant_ratio)
        aperiodicity = warp_envelope(aperiodicity, formant_ratio)
    y = pyworld.synthesize(f0 * 2.0 ** (semitones / 12.0), envelope, aperiodicity, sample_rate, frame_period_ms)
    y = y[: x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))
    return _like(y, audio)


def _biquad(kind: str, freq: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """One second-order section (b0, b1, b2, 1, a1, a2) from the RBJ Audio EQ Cookbook."""
    amp = 10.0 ** (gain_db / 40.0)
    w0 = 2 * math.pi * freq / sample_rate
    cos_w, alpha = math.cos(w0), math.sin(w0) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * amp, -2 * cos_w, 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * cos_w, 1 - alpha / amp]
    else:
        root = 2 * math.sqrt(amp) * alpha
        sign = 1 if kind == "low" else -1
        b = [amp * ((amp + 1) - sign * (amp - 1) * cos_w + root),
             sign * 2 * amp * ((amp - 1) - sign * (amp + 1) * cos_w),
             amp * ((amp + 1) - sign * (amp - 1) * cos_w - root)]
        a = [(amp + 1) + sign * (amp - 1) * cos_w + root,
             -sign * 2 * ((amp - 1) + sign * (amp + 1) * cos_w),
             (amp + 1) + sign * (amp - 1) * cos_w - root]
    return np.array(b + a) / a[0]


def random_eq_sections(sample_rate: int, max_db: float, generator: torch.Generator, peaks: int = 3) -> np.ndarray:
    """Random EQ as second-order sections: a low shelf, a high shelf and `peaks` peaking bands."""
    nyquist = sample_rate / 2
    sections = [
        _biquad("low", _uniform(generator, 100.0, 400.0), _uniform(generator, -max_db, max_db), 0.707, sample_rate),
        _biquad("high", min(_uniform(generator, 3000.0, 8000.0), 0.9 * nyquist),
                _uniform(generator, -max_db, max_db), 0.707, sample_rate),
    ]
    for _ in range(peaks):
        centre = math.exp(_uniform(generator, math.log(150.0), math.log(min(10000.0, 0.8 * nyquist))))
        sections.append(_biquad("peak", centre, _uniform(generator, -max_db, max_db),
                                _uniform(generator, 0.5, 3.0), sample_rate))
    return np.stack(sections)


def random_eq(audio: np.ndarray | torch.Tensor, sample_rate: int, max_db: float, generator: torch.Generator,
              peaks: int = 3) -> np.ndarray | torch.Tensor:
    """Filter through a random EQ (random_eq_sections); same length, peak level kept at most."""
    x = _as_numpy(audio)
    if x.size == 0:
        return _like(x, audio)
    y = scipy.signal.sosfilt(random_eq_sections(sample_rate, max_db, generator, peaks), x)
    peak_in, peak_out = float(np.abs(x).max()), float(np.abs(y).max())
    if peak_out > peak_in > 0:  # boosts must not push the signal past its original peak
        y = y * (peak_in / peak_out)
    return _like(y, audio)


def random_mel_eq(log_mel: torch.Tensor, max_db: float, generator: torch.Generator, knots: int = 6) -> torch.Tensor:
    """Add a smooth random gain curve over the mel bins to a log10 mel (n_mels, T) or (B, n_mels, T)."""
    n_mels = log_mel.shape[-2]
    batch = log_mel.shape[0] if log_mel.dim() == 3 else 1
    gains_db = (torch.rand(batch, 1, knots, generator=generator) * 2 - 1) * max_db
    curve = torch.nn.functional.interpolate(gains_db, size=n_mels, mode="linear", align_corners=True)
    curve = curve.transpose(1, 2).to(log_mel)  # (B, n_mels, 1)
    shifted = log_mel + curve / 20.0  # dB of amplitude -> log10 of magnitude
    return shifted if log_mel.dim() == 3 else shifted[0]


# A recording's bandwidth is a cue of WHO sings (an 8 kHz telephone voice, a 16 kHz TTS voice, a
# 22.05 kHz game recording), not of what is sung. Cut-offs from the telephone band to 22.05 kHz audio.
BAND_LIMIT_HZ = (3400.0, 11000.0)
BAND_LIMIT_RAMP_BINS = 2.0  # mel bins from no cut to the full cut, as a resampler's filter rolls off
BAND_LIMIT_DEPTH = 4.0  # log10 magnitude taken off above the cut-off (80 dB), never below the clamp


def random_mel_band_limit(log_mel: torch.Tensor, audio_cfg, probability: float,
                          generator: torch.Generator) -> torch.Tensor:
    """Each item of a log10 mel batch (B, n_mels, T), with the given probability, as if its audio had
    been recorded at a lower sample rate: the bins above a cut-off drawn log-uniformly in BAND_LIMIT_HZ
    are lowered by BAND_LIMIT_DEPTH, never below the mel's clamp. The content encoder then cannot tell
    singers apart by their bandwidth. The draws come from `generator` (on the CPU) whatever the mel's device."""
    from core.audio.mel import mel_bin_of

    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"band-limit probability must be in [0, 1], got {probability}")
    if log_mel.dim() != 3:
        raise ValueError(f"band limit needs a (batch, n_mels, frames) log-mel, got shape {tuple(log_mel.shape)}")
    batch, n_mels = log_mel.shape[0], log_mel.shape[1]
    chosen = torch.rand(batch, generator=generator) < probability
    low, high = (math.log(hz) for hz in BAND_LIMIT_HZ)
    cutoff_hz = torch.exp(low + (high - low) * torch.rand(batch, generator=generator))
    cutoff_bin = torch.tensor([mel_bin_of(float(hz), audio_cfg) for hz in cutoff_hz])
    ramp = ((torch.arange(n_mels)[None, :] - cutoff_bin[:, None]) / BAND_LIMIT_RAMP_BINS).clamp(0.0, 1.0)
    depth = (ramp * BAND_LIMIT_DEPTH * chosen[:, None]).to(log_mel)[:, :, None]  # (B, n_mels, 1)
    floor = math.log10(audio_cfg.log_clamp)
    return torch.maximum(log_mel - depth, torch.clamp(log_mel, max=floor))


def perturb_audio(audio: np.ndarray | torch.Tensor, sample_rate: int, settings: PerturbSettings,
                  generator: torch.Generator) -> np.ndarray | torch.Tensor:
    """Random formant shift, pitch shift and EQ, in that order; same length and type out."""
    ratio = math.exp(_uniform(generator, -math.log(settings.formant), math.log(settings.formant)))
    semitones = _uniform(generator, -settings.pitch, settings.pitch)
    shifted = world_shift(audio, sample_rate, semitones=semitones, formant_ratio=ratio)
    return random_eq(shifted, sample_rate, settings.eq_db, generator)
