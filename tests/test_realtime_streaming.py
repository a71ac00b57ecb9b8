"""Streaming building blocks without a device: ring, resampler, SOLA, gate, presets, plugins."""

import json

import numpy as np
import pytest

from core.errors import ConfigError, UserError
from realtime.gate import NoiseGate
from realtime.plugins import GainPlugin, LimiterPlugin, PluginChain, make_plugin
from realtime.presets import available_presets, load_preset
from realtime.resampler import StreamingResampler
from realtime.ring import SampleRing
from realtime.sola import SolaCrossfader


def test_ring_wraps_and_refuses_overflow():
    ring = SampleRing(10)
    data = np.arange(25, dtype=np.float32)
    assert ring.write(data[:7]) == 7
    out = np.zeros(5, dtype=np.float32)
    assert ring.read_into(out) == 5 and np.array_equal(out, data[:5])
    assert ring.write(data[7:20]) == 8  # only 8 free
    got = np.zeros(10, dtype=np.float32)
    assert ring.read_into(got) == 10
    assert np.array_equal(got, data[5:15])
    assert ring.fill == 0


@pytest.mark.parametrize("rates", [(48000, 24000), (44100, 24000), (24000, 44100), (16000, 24000)])
def test_resampler_blockwise_equals_whole(rates):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(rates[0] // 2).astype(np.float32)
    whole = StreamingResampler(*rates).process(x)
    rs = StreamingResampler(*rates)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 600))
        parts.append(rs.process(x[i:i + n]))
        i += n
    streamed = np.concatenate(parts)
    assert len(streamed) == len(whole)
    assert np.max(np.abs(streamed - whole)) < 1e-5


def test_resampler_keeps_a_sine_with_its_stated_delay():
    orig, new, f = 44100, 24000, 1000.0
    rs = StreamingResampler(orig, new)
    y = rs.process(np.sin(2 * np.pi * f * np.arange(orig) / orig).astype(np.float32))
    ref = np.sin(2 * np.pi * f * (np.arange(len(y)) - rs.delay_out_samples) / new)
    assert np.max(np.abs(y[1000:-1000] - ref[1000:-1000])) < 1e-3


def test_resampler_keeps_its_gather_arrays_from_block_to_block():
    """A balanced block (40 ms at 24 kHz -> 48 kHz) gathered 32 taps for each of 1920 outputs into fresh arrays,
    1.5 MB a block, whose new pages of memory sometimes cost more than the filtering; kept, a block's own
    arrays are its samples' size."""
    import tracemalloc

    rs = StreamingResampler(24000, 48000)
    block = np.random.default_rng(2).standard_normal(960).astype(np.float32)
    rs.process(block)  # the first block sizes what is kept
    tracemalloc.start()
    try:
        out = rs.process(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out) == 1920
    assert peak < 0.4e6  # gathering afresh: 1.55 MB
    rs.process(np.zeros(24000 * 2, dtype=np.float32))  # seconds at once, after a stall: not kept for ever
    assert len(rs._indices) == 1920


def test_sola_reassembles_overlapping_chunks_without_seams():
    block, xf, search = 480, 120, 60
    signal = np.sin(2 * np.pi * 150 * np.arange(48000) / 24000).astype(np.float32)
    sola = SolaCrossfader(block, xf, search)
    out = [sola.process(signal[k * block:k * block + sola.chunk_length]) for k in range(40)]
    out = np.concatenate(out)
    assert sola.last_offset == 0
    assert np.max(np.abs(out[block:] - signal[block:len(out)])) < 1e-3


def test_sola_finds_a_shifted_chunk():
    block, xf, search = 480, 120, 80
    signal = np.sin(2 * np.pi * 200 * np.arange(24000) / 24000).astype(np.float32)
    sola = SolaCrossfader(block, xf, search)
    sola.process(signal[:sola.chunk_length])
    shift = 37  # the next chunk starts 37 samples early: its match lies 37 samples in
    out = sola.process(signal[block - shift:block - shift + sola.chunk_length])
    assert sola.last_offset in (shift, shift + 120)  # 120 = one period of 200 Hz
    assert np.max(np.abs(out - signal[block:2 * block])) < 1e-3


def test_gate_keeps_the_onset_holds_and_ramps():
    sr, n = 24000, 480
    gate = NoiseGate(sr, threshold_db=-40, hysteresis_db=6, hold_ms=100, attack_ms=1, release_ms=20)
    quiet = np.full(n, 1e-4, dtype=np.float32)
    loud = np.full(n, 0.1, dtype=np.float32)
    block = quiet.copy(); gate.process(block)
    assert not gate.is_open and np.max(np.abs(block)) < 1e-4
    block = loud.copy(); gate.process(block)
    assert gate.is_open and block[n // 2] > 0.09  # the block that opened it passes
    between = np.full(n, 10 ** (-43 / 20), dtype=np.float32)  # under threshold, above threshold - hysteresis
    for _ in range(20):
        gate.process(between.copy())
    assert gate.is_open
    gains = []
    for _ in range(10):  # below the hysteresis band: closes after the hold, smoothly
        block = loud.copy() * 1e-3; gate.process(block); gains.append(block / (loud * 1e-3))
    gains = np.concatenate(gains)
    assert not gate.is_open and gains[-1] < 0.01
    assert np.max(np.abs(np.diff(gains))) < 0.01  # no step in the gain: no click


def test_presets_load_and_meet_their_order():
    names = available_presets()
    assert {"low-latency", "balanced", "safe"} <= set(names)
    presets = [load_preset(n) for n in ("low-latency", "balanced", "safe")]
    assert presets[0].block_ms < presets[1].block_ms < presets[2].block_ms
    for p in presets:
        assert sum(s["plugin"] == "converter" for s in p.chain) == 1


def test_preset_from_json_and_errors(tmp_path):
    good = load_preset("balanced").to_dict()
    good["block_ms"] = 30
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(good))
    assert load_preset(path).block_ms == 30.0
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        load_preset("nope")
    bad = dict(good, bogus=1)
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="bogus"):
        load_preset(path)
    path.write_text(json.dumps(dict(good, chain=[{"plugin": "gate"}])))
    with pytest.raises(ConfigError, match="converter"):
        load_preset(path)


def test_chain_bypasses_a_failing_plugin_and_goes_on():
    class Broken(GainPlugin):
        def process(self, block):
            block[:] = np.nan
            raise RuntimeError("boom")

    chain = PluginChain([GainPlugin(6.0), Broken(0.0, name="broken"), LimiterPlugin(-1.0)])
    chain.prepare(24000, 256)
    block = np.full(256, 0.1, dtype=np.float32)
    chain.process(block)
    assert np.all(np.isfinite(block)) and np.allclose(block, 0.1 * 10 ** (6 / 20), atol=1e-4)
    assert any("broken" in m for m in chain.messages)
    assert 1 in chain.bypassed


def test_limiter_never_exceeds_its_ceiling():
    lim = LimiterPlugin(ceiling_db=-1.0)
    lim.prepare(24000, 256)
    ceiling = 10 ** (-1 / 20)
    rng = np.random.default_rng(0)
    for scale in (0.1, 3.0, 10.0, 0.5):
        block = (rng.standard_normal(256) * scale).astype(np.float32)
        lim.process(block)
        assert np.max(np.abs(block)) <= ceiling + 1e-6


def test_pedalboard_effect_and_unknown_plugin():
    reverb = make_plugin({"plugin": "reverb", "room_size": 0.5}, None)
    reverb.prepare(24000, 480)
    impulse = np.zeros(480, dtype=np.float32); impulse[0] = 1.0
    reverb.process(impulse)
    tail = np.zeros(480, dtype=np.float32)
    reverb.process(tail)  # state carried into the next block
    assert np.max(np.abs(tail)) > 1e-4
    with pytest.raises(UserError, match="unknown plugin"):
        make_plugin({"plugin": "flanger9000"}, None)
    with pytest.raises(UserError, match="vst3"):
        make_plugin({"plugin": "vst3"}, None)


def test_converter_hot_swap_crossfades_in_place():
    from realtime.plugins import ConverterPlugin
    from realtime.standin import StandInConverter

    sr, block = 24000, 960
    t = np.arange(sr * 2) / sr
    x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)

    def run(swap_at=None):
        plugin = ConverterPlugin(StandInConverter(), context=2400, lookahead=384, crossfade=240, search=240)
        plugin.prepare(sr, block)
        out = []
        for k in range(len(x) // block):
            if k == swap_at:
                plugin.swap(StandInConverter())
            chunk = x[k * block:(k + 1) * block].copy()
            plugin.process(chunk)
            out.append(chunk)
        return np.concatenate(out), plugin

    plain, _ = run()
    swapped, plugin = run(swap_at=20)
    assert plugin.converter is not None and plugin._pending is None
    # the same converter swapped in: the crossfade must be inaudible (equal output), not a seam
    assert np.max(np.abs(swapped - plain)) < 0.3 * 0.05


def test_a_swapped_in_converter_without_the_asked_for_tracker_runs_with_its_own():
    """The controls can name a tracker only the old converter has, in the crossfade block and
    until the engine catches up: the new one must convert with its own first tracker, not fail."""
    from realtime.converter import ConverterControls
    from realtime.plugins import ConverterPlugin
    from realtime.standin import StandInConverter

    sr, block = 24000, 960
    x = (0.3 * np.sin(2 * np.pi * 200 * np.arange(sr) / sr)).astype(np.float32)
    plugin = ConverterPlugin(StandInConverter(), context=2400, lookahead=384, crossfade=240, search=240)
    plugin.prepare(sr, block)
    plugin.controls = ConverterControls(f0_method="fcpe")  # as a model converter was asked for
    for k in range(len(x) // block):
        chunk = x[k * block:(k + 1) * block].copy()
        plugin.process(chunk)
    assert np.max(np.abs(chunk)) > 0.1
    assert plugin.last_result is not None and np.max(plugin.last_result.f0_in) > 150  # DIO found the tone
