"""bench_f0_switch.py: what the worker pays at a tracker switch is the tracker's making, unless prepared first."""

from __future__ import annotations

import time

from bench_scripts import load_bench
from convert_fixtures import build_tiny_model


def test_a_slow_tracker_is_paid_by_the_worker_only_when_not_prepared(tmp_path, monkeypatch):
    import core.convert.voice_model as voice_model

    bench = load_bench("bench_f0_switch")
    path = build_tiny_model(tmp_path / "tiny.safetensors").path
    original = voice_model.pitch_extractor_from_config

    def slow_harvest(features, audio, name, **kwargs):
        if name == "harvest":
            time.sleep(0.05)
        return original(features, audio, name, **kwargs)

    monkeypatch.setattr(voice_model, "pitch_extractor_from_config", slow_harvest)
    made = bench.switch_ms(path, ["harvest"], prepared=False, configured="dio")
    prepared = bench.switch_ms(path, ["harvest"], prepared=True, configured="dio")
    assert made["harvest"] >= 50.0 and prepared["harvest"] < 10.0
    # a model trained with harvest makes it with its stream: nothing left for the switch
    own = bench.switch_ms(path, ["harvest"], prepared=False, configured="harvest")
    assert own["harvest"] < 10.0
