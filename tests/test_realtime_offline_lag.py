"""compare_to_offline's lag: exact on identical waveforms, from the loudness envelope where a model's
voice does not repeat its waveform (phase), as simulate's measured_latency_ms needs."""

import numpy as np
from scipy.signal import hilbert

from realtime.offline import ENVELOPE_HOP, compare_to_offline

RATE = 24000


def phrases(seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """Sung-like notes with onsets and pauses: a harmonic tone under a gated, shaped envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 180 + 40 * np.floor(t / 0.45) % 120
    tone = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / RATE) / k for k in range(1, 8))
    gate = np.zeros_like(t)
    start = 0.0
    while start < seconds:
        length = rng.uniform(0.2, 0.5)
        on = (t >= start) & (t < start + length)
        gate[on] = np.minimum(1.0, (t[on] - start) / 0.01) * np.exp(-(t[on] - start) * 2)
        start += length + rng.uniform(0.05, 0.2)
    return (0.3 * tone * gate).astype(np.float32)


def test_same_waveform_is_aligned_sample_exactly():
    ref = phrases()
    latency, extra = 2400, 37
    streamed = np.concatenate([np.zeros(latency + extra, np.float32), ref])
    result = compare_to_offline(streamed, ref, latency)
    assert result.lag_method == "waveform" and result.best_lag_samples == extra and result.correlation > 0.99


def test_another_phase_of_the_same_voice_is_aligned_by_its_envelope():
    ref = phrases()
    rotated = np.imag(hilbert(ref)).astype(np.float32)  # every partial 90 degrees on: same sound, other waveform
    for extra in (0, 130, -200):
        latency = 2400
        streamed = np.concatenate([np.zeros(latency + extra, np.float32), rotated])
        result = compare_to_offline(streamed, ref, latency)
        assert result.correlation < 0.9 and result.lag_method == "envelope"
        assert abs(result.best_lag_samples - extra) <= ENVELOPE_HOP, (extra, result)  # within 1 ms
