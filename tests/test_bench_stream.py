"""bench_stream.py --stages: the stages it reports add up to the push and each is really timed."""

from __future__ import annotations

import time

from bench_scripts import load_bench
from convert_fixtures import build_tiny_model


def test_stages_add_up_and_a_slow_stage_shows_where_it_is(tmp_path, monkeypatch):
    bench = load_bench("bench_stream")
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    fast = bench.time_stages(model, 256, 6, "dio")
    assert set(fast["median_ms"]) == {*bench.STAGES, "rest", "total"}
    assert abs(sum(v for k, v in fast["median_ms"].items() if k != "total") - fast["median_ms"]["total"]) < \
        0.35 * fast["median_ms"]["total"] + 0.5  # medians of parts need not add exactly; roughly they must
    # A vocoder made 20 ms slower per call shows up as the vocoder's time, not elsewhere.
    vocoder_class = type(model.vocoder.stream())
    original = vocoder_class.process

    def slow(self, *args, **kwargs):
        time.sleep(0.02)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(vocoder_class, "process", slow)
    slowed = bench.time_stages(model, 256, 6, "dio")
    assert slowed["median_ms"]["vocoder"] >= fast["median_ms"]["vocoder"] + 18.0
    assert slowed["median_ms"]["acoustic"] < fast["median_ms"]["acoustic"] + 10.0
    assert "window" not in vars(model.generator)  # unwrapped: the model is shared
