"""bench_output_followers.py times both followers on the same blocks, and a slower follower shows."""

from __future__ import annotations

import time

import numpy as np

from bench_scripts import load_bench


def test_a_follower_made_slower_shows_in_its_own_column(monkeypatch):
    bench = load_bench("bench_output_followers")
    source = bench.stand_in_source(1.0)
    fast = bench.measure(source, [20.0], 50)[0]
    assert fast["block_ms"] == 20.0 and fast["envelope_us_median"] > 0 and fast["silence_us_median"] > 0
    assert np.isclose(fast["envelope_over_silence"], fast["envelope_us_median"] / fast["silence_us_median"])

    from core.audio.envelope import EnvelopeFollower
    original = EnvelopeFollower.process

    def slow(self, *args):
        time.sleep(0.002)
        return original(self, *args)

    monkeypatch.setattr(EnvelopeFollower, "process", slow)
    slowed = bench.measure(source, [20.0], 50)[0]
    assert slowed["envelope_us_median"] >= fast["envelope_us_median"] + 1800
    assert slowed["silence_us_median"] < fast["silence_us_median"] + 1000
