"""Silence in, silence out: a closed gate and silent input give exact zeros, a phrase still plays."""

import numpy as np
import pytest

from core.audio.silence import FADE_IN_MS, FADE_OUT_MS, HOLD_MS, SilenceFollower, mute_where_silent
from core.models import default_model_path
from realtime.gate import NoiseGate
from realtime.presets import load_preset
from realtime.simulate import simulate

RATE = 48000


def tone(seconds: float, f0: float = 220.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * f0 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    return sum(0.2 / k * np.sin(k * phase) for k in range(1, 6)).astype(np.float32)


def test_follower_mutes_silence_and_is_open_when_the_onset_arrives():
    latency, sr = 600, 24000
    follower = SilenceFollower(sr, latency)
    x = np.zeros(sr, np.float32)
    onset, end = 9000, 15000
    x[onset:end] = 0.5
    delayed = np.concatenate([np.zeros(latency, np.float32), x])[:len(x)]  # a converter that only delays
    out = np.empty_like(x)
    for i in range(0, len(x), 960):
        block = delayed[i:i + 960].copy() + 0.01  # plus a constant murmur the model would add
        follower.process(x[i:i + 960], block)
        out[i:i + 960] = block
    assert not np.any(out[:onset + latency - follower.ahead])        # exact zeros before the fade-in
    assert np.all(out[onset + latency:end + latency] == np.float32(0.51))  # fully open at the onset
    assert 0 < out[onset + latency - follower.ahead // 2] < 0.51      # a ramp, not a step
    silent_from = end + latency + follower.hold + follower.fade_out
    assert not np.any(out[silent_from:])


def test_closed_gate_passes_exact_zeros():
    gate = NoiseGate(24000, threshold_db=-50.0)
    noise = (0.0003 * np.random.default_rng(0).standard_normal(24000)).astype(np.float32)  # -70 dBFS
    loud = tone(0.3, rate=24000)
    x = np.concatenate([loud, noise])
    for i in range(0, len(x), 480):
        gate.process(x[i:i + 480])
    assert not gate.is_open and not np.any(x[-4800:])


@pytest.fixture(scope="module")
def default_converter():
    if default_model_path() is None:
        pytest.skip("no default model installed")
    from realtime.model_converter import make_converter

    return make_converter(None)


def test_digital_silence_through_the_engine_is_digital_silence(default_converter):
    report, played = simulate(default_converter, load_preset("balanced"), np.zeros(2 * RATE, np.float32), RATE, 256,
                              compare=False, compute_ms=5.0)
    assert report.xruns == 0
    assert not np.any(played)


def test_a_phrase_plays_and_the_pauses_after_it_are_exact_zeros(default_converter):
    rng = np.random.default_rng(1)
    room = (0.0003 * rng.standard_normal(int(1.5 * RATE))).astype(np.float32)  # -70 dBFS: below the gate
    parts = [np.zeros(int(0.3 * RATE), np.float32), tone(1.2), np.zeros(RATE, np.float32), tone(0.8), room]
    x = np.concatenate(parts)
    bounds = np.cumsum([0] + [len(p) for p in parts]) / RATE
    engines = []
    report, played = simulate(default_converter, load_preset("balanced"), x, RATE, 256, compare=False,
                              compute_ms=5.0, on_engine=engines.append)
    d = engines[0].latency_samples / RATE

    def seg(a, b):
        return played[int((a + d) * RATE):int((b + d) * RATE)]

    assert report.xruns == 0
    for a, b in ((bounds[1], bounds[2]), (bounds[3], bounds[4])):  # both phrases come out
        assert np.sqrt(np.mean(seg(a + 0.1, b - 0.1) ** 2)) > 0.01
    # digital silence after the first phrase: zeros 0.25 s after its end (hold 50 ms, fade 150 ms)
    assert not np.any(seg(bounds[2] + 0.25, bounds[3] - 0.01))
    # room noise under the threshold after the second: zeros once the gate has closed (hold 150 ms,
    # then its release fades under -80 dB) and the follower has faded
    assert not np.any(seg(bounds[4] + 0.7, bounds[5] - d))
    # the second phrase opens without a click: its first millisecond is faded in
    start = int((bounds[3] + d) * RATE) - 2 * RATE // 100
    first = start + int(np.flatnonzero(played[start:])[0])
    assert np.max(np.abs(played[first:first + RATE // 1000])) < 0.2 * np.max(np.abs(seg(bounds[3], bounds[4])))


def test_offline_muting_follows_the_live_rule_and_looks_ahead():
    sr = 24000
    x = np.zeros(sr, np.float32)
    onset, end = 6000, 14000
    x[onset:end] = 0.5
    murmur = np.full(sr, 0.01, np.float32)  # what the model renders everywhere, aligned with the input
    out = mute_where_silent(x, murmur, sr)
    fade_in, hold, fade_out = (int(ms * sr / 1000) for ms in (FADE_IN_MS, HOLD_MS, FADE_OUT_MS))
    assert len(out) == sr
    assert not np.any(out[:onset - fade_in])                       # silent before: exact zeros
    assert 0 < out[onset - fade_in // 2] < 0.01                    # faded in ahead of the onset
    assert np.all(out[onset:end + hold] == np.float32(0.01))       # the phrase and its tail untouched
    assert not np.any(out[end + hold + fade_out:])                 # silent after: zeros again


def test_offline_conversion_is_silent_where_the_input_is(default_converter):
    from core.convert import convert_audio

    rate = default_converter.model.sample_rate
    gap = np.zeros(rate, np.float32)
    x = np.concatenate([tone(1.0, rate=rate), gap, tone(1.0, rate=rate)])
    out, out_rate, _ = convert_audio(default_converter.model, x, rate, default_converter.model.singers.names[0])
    assert out_rate == rate and len(out) == len(x)
    assert not np.any(out[rate + rate // 4:2 * rate - rate // 100])  # the gap, after the tail
    for phrase in (out[rate // 10:rate - rate // 10], out[2 * rate + rate // 10:-rate // 10]):
        assert np.sqrt(np.mean(phrase ** 2)) > 0.01
