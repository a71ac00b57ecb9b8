"""What the latency probe plays and how it reads the delay back.

- Chirps (realtime.roundtrip.probe_signal) for paths that keep the waveform: the device
  loopback and the engine in bypass. Cross-correlation gives the lag to the sample.
- A sung phrase after silence for the converted path, whose waveform the model redraws:
  the delay is read from where the loudness rises (the notes' onsets: a model's notes start
  with the input's but ring out longer, so whole envelopes would pull the match late),
  cross-correlated at 1 ms steps and refined between them; and, as a check, from the first
  sound to the first sound (the gate and the silence follower keep the output at exact zeros
  until the voice starts).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import correlate

from core.audio.peak import SILENCE_PEAK
from realtime.roundtrip import estimate_lag, probe_signal

CHIRP_SPACING_S = 1.0  # chirps this far apart; a lag must stay below it to be unambiguous
MAX_LAG_S = 0.9        # the longest round trip the probe looks for
CLEAR_PEAK = 10.0      # cross-correlation peak-to-median ratio that counts as found
RISES_MATCH = 0.3      # correlation of the loudness rises that counts as the phrase coming back
                       # (the default model's output scores ~0.5, the WORLD stand-in's ~0.9)
ENVELOPE_STEP_S = 0.001
ENVELOPE_WINDOW_S = 0.005
NEAR_S = 0.1           # the converted voice is sought this close to the dry path's lag (the engine
                       # schedules both at one latency; SOLA and the silence follower move it < 25 ms)
PHRASE_LEAD_S = 1.0    # silence before the phrase: the gate closes and the output falls to zeros


def chirp_take(samplerate: int, lead_in_s: float = 0.3) -> np.ndarray:
    """One chirp and room for it to come back: short, so that the engine's latency rarely adapts during it."""
    return probe_signal(samplerate, repeats=1, spacing_s=CHIRP_SPACING_S, lead_in_s=lead_in_s)


def chirp_lag(played: np.ndarray, recorded: np.ndarray, samplerate: int) -> tuple[int, float]:
    """(lag in samples, clarity) of a chirp take."""
    return estimate_lag(played, recorded, max_lag=int(MAX_LAG_S * samplerate))


def synthetic_phrase(samplerate: int) -> np.ndarray:
    """A sung-like phrase of five notes (harmonic voice with vibrato, soft attacks, two rests),
    for a rig without a recording at hand; a real recording is better (--phrase)."""
    notes = [(57, 0.35, 0.25), (60, 0.25, 0.35), (None, 0.15, 0.0), (64, 0.45, 0.3), (62, 0.2, 0.2),
             (None, 0.2, 0.0), (59, 0.5, 0.3)]  # (MIDI note or rest, seconds, peak level)
    parts = []
    for midi, seconds, level in notes:
        n = int(seconds * samplerate)
        if midi is None:
            parts.append(np.zeros(n))
            continue
        t = np.arange(n) / samplerate
        f0 = 440.0 * 2.0 ** ((midi - 69) / 12) * 2.0 ** (0.25 * np.sin(2 * np.pi * 5.5 * t) / 12)
        phase = 2 * np.pi * np.cumsum(f0) / samplerate
        harmonics = range(1, int(4000 // f0.max()) + 1)
        voice = sum(np.sin(k * phase) / k for k in harmonics)
        attack, release = int(0.03 * samplerate), int(0.05 * samplerate)
        shape = np.ones(n)
        shape[:attack] = np.linspace(0.0, 1.0, attack)
        shape[-release:] = np.minimum(shape[-release:], np.linspace(1.0, 0.0, release))
        parts.append(level * voice / np.max(np.abs(voice)) * shape)
    return np.concatenate(parts).astype(np.float32)


def phrase_take(phrase: np.ndarray, samplerate: int) -> np.ndarray:
    """Silence, the phrase, and room for its delayed copy to come back."""
    lead, tail = int(PHRASE_LEAD_S * samplerate), int(MAX_LAG_S * samplerate)
    return np.concatenate([np.zeros(lead, np.float32), np.asarray(phrase, np.float32), np.zeros(tail, np.float32)])


def envelope(audio: np.ndarray, samplerate: int) -> np.ndarray:
    """RMS over ENVELOPE_WINDOW_S, every ENVELOPE_STEP_S (frame k is centred on sample k * step)."""
    step, window = int(ENVELOPE_STEP_S * samplerate), int(ENVELOPE_WINDOW_S * samplerate)
    half = window // 2
    # sums[i] = energy of padded[:i + 1]; padded sample half + 1 + s is audio sample s
    padded = np.concatenate([np.zeros(half + 1), np.asarray(audio, np.float64) ** 2, np.zeros(window)])
    sums = np.cumsum(padded)
    starts = np.arange(0, len(audio), step)  # frame k spans audio [s - half, s - half + window), s = k * step
    return np.sqrt(np.maximum(sums[starts + window] - sums[starts], 0.0) / window)


def rises(audio: np.ndarray, samplerate: int) -> np.ndarray:
    """How fast the loudness (dB, floored at the silence threshold) rises at each envelope step; 0 where
    it falls. Onsets carry the timing: a model's notes start with the input's but ring out longer."""
    level = 20.0 * np.log10(np.maximum(envelope(audio, samplerate), SILENCE_PEAK))
    return np.maximum(np.diff(level, prepend=level[:1]), 0.0)


def rises_lag(played: np.ndarray, recorded: np.ndarray, samplerate: int,
              near: float | None = None) -> tuple[float, float]:
    """(lag in samples, correlation coefficient at that lag) of the loudness rises: where the recording's
    onsets follow the played phrase's best, refined between the 1 ms steps by a parabola. With `near`
    (samples), only lags within NEAR_S of it count: where blocks were dropped, a later note can match
    an earlier one better than the true lag does."""
    step = int(ENVELOPE_STEP_S * samplerate)
    a, b = rises(played, samplerate), rises(recorded, samplerate)
    max_lag = int(MAX_LAG_S / ENVELOPE_STEP_S)
    cc = correlate(b, a, mode="full", method="fft")[len(a) - 1:len(a) + max_lag]
    low, high = 0, len(cc)
    if near is not None:
        centre, reach = int(round(near / step)), int(NEAR_S / ENVELOPE_STEP_S)
        low, high = max(0, centre - reach), min(len(cc), centre + reach + 1)
    k = low + int(np.argmax(cc[low:high]))
    offset = 0.0
    if 0 < k < len(cc) - 1:
        left, mid, right = cc[k - 1], cc[k], cc[k + 1]
        denom = left - 2 * mid + right
        offset = 0.5 * (left - right) / denom if denom < 0 else 0.0
    shifted = b[k:k + len(a)]
    norm = np.sqrt(np.sum(a[:len(shifted)] ** 2) * np.sum(shifted ** 2)) + 1e-12
    return (k + offset) * step, float(cc[k] / norm)


def onset(audio: np.ndarray) -> int | None:
    """Index of the first sample above the silence threshold (None: all silent)."""
    loud = np.flatnonzero(np.abs(audio) > SILENCE_PEAK)
    return int(loud[0]) if len(loud) else None
