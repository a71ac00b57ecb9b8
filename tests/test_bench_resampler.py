"""bench/bench_resampler.py: the resampler with kept gather arrays against fresh ones, alone and in the engine."""

import json

import numpy as np

from convert_fixtures import sung_tone
from core.audio.io import save_audio
from tests.bench_scripts import load_bench


def test_the_fresh_way_is_the_same_filter():
    """The comparison is only of memory traffic if both ways give the same samples."""
    bench = load_bench("bench_resampler")
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    for rates in ((24000, 48000), (48000, 24000), (24000, 44100)):
        kept, fresh = bench.StreamingResampler(*rates), bench.FreshGatherResampler(*rates)
        for start, stop in ((0, 960), (960, 1000), (1000, 5000)):  # growing, shrinking and growing blocks
            np.testing.assert_array_equal(kept.process(x[start:stop]), fresh.process(x[start:stop]))


def test_each_preset_both_ways_alone_and_each_clip_both_ways_in_the_engine(tmp_path, capsys):
    bench = load_bench("bench_resampler")
    clip = tmp_path / "voice.wav"
    save_audio(clip, sung_tone(1.5), 24000)
    assert bench.main(["--rounds", "2", "--blocks", "3", "--clips", str(clip), "--model", "stand-in", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(r["preset"], r["from_hz"]) for r in result["alone"]] == [
        (preset, rate) for preset in ("low-latency", "balanced", "safe") for rate in (24000, 48000)]
    balanced_up = result["alone"][2]
    assert balanced_up["block"] == 960 and balanced_up["to_hz"] == 48000
    assert all(r["kept_p50_ms"] > 0 and r["fresh_p50_ms"] > 0 and r["p50_ratio"] > 0 for r in result["alone"])
    assert sorted(r["way"] for r in result["engine"]) == ["fresh", "kept"]
    assert all(r["clip"] == "voice.wav" and r["blocks"] > 0 and r["compute_p50_ms"] > 0 for r in result["engine"])
