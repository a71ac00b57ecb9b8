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


def test_each_stretch_is_judged_at_the_latency_then_in_force():
    from realtime.offline import aligned_pieces, envelope_lag
    from realtime.simulate import latency_spans

    ref = phrases(6.0, seed=3)
    rotated = np.imag(hilbert(ref)).astype(np.float32)
    before, after, change_s = 2640, 2280, 3.0  # 110 ms, then 95 ms from 3 s on
    streamed = np.zeros(len(ref) + before, np.float32)
    cut = int(change_s * RATE)
    streamed[before:before + cut] = rotated[:cut]
    streamed[after + cut:after + len(ref)] = rotated[cut:]
    spans = latency_spans(110.0, [{"at_s": change_s, "latency_ms": 95.0}], len(ref) / RATE)
    assert [(round(a, 2), round(b, 2), n) for a, b, n in spans] == [(1.0, 2.95, 2640), (3.25, 6.0, 2280)]
    assert abs(envelope_lag(aligned_pieces(streamed, ref, spans), 480)) <= ENVELOPE_HOP
    # judged at the final latency throughout, the first stretch would seem 15 ms late
    wrong = [(a, b, 2280) for a, b, _ in spans[:1]]
    assert abs(envelope_lag(aligned_pieces(streamed, ref, wrong), 480) - 360) <= ENVELOPE_HOP
