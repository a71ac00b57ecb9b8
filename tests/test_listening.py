"""core.convert.listening: DNSMOS hears noise, singer identification ranks, spread."""

import numpy as np
import pytest

from convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS
from core.convert.listening import (dnsmos, dnsmos_averaged, distance_band, identification_by_distance,
                                   identification_by_singer, singer_identification, singer_ranks, spread)

RATE = 16000


def _voice_like(seconds: float = 3.0) -> np.ndarray:
    """A harmonic tone with a syllable-rate envelope: clean, voice-like material."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 200.0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.2 * tone * envelope).astype(np.float32)


def test_dnsmos_scores_added_noise_lower():
    clean = _voice_like()
    noisy = clean + 0.2 * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    a, b = dnsmos(clean, RATE), dnsmos(noisy, RATE)
    assert set(a) == {"sig", "bak", "ovrl", "p808"}
    assert all(1.0 <= v <= 5.0 for v in a.values())
    assert b["bak"] < a["bak"] - 1.0 and b["ovrl"] < a["ovrl"] - 0.5


def test_dnsmos_refuses_silence():
    with pytest.raises(ValueError):
        dnsmos(np.zeros(RATE, np.float32), RATE)


def test_dnsmos_averaged_is_the_mean_of_the_clip_presented_each_way():
    clip = _voice_like(DNSMOS_ONE_WINDOW_SECONDS)  # even with its 5 ms lead, one DNSMOS window: 7 times cheaper
    scored = dnsmos_averaged(clip, RATE, gains_db=[-12.0, 0.0], shifts_ms=[0.0, 5.0])
    quiet = clip * 10 ** (-12 / 20)
    late = lambda x: np.concatenate([np.zeros(80), x])  # 5 ms of silence first, at 16 kHz
    each = {"-12 dB, 0 ms": dnsmos(quiet, RATE), "+0 dB, 0 ms": dnsmos(clip, RATE),
            "-12 dB, 5 ms": dnsmos(late(quiet), RATE), "+0 dB, 5 ms": dnsmos(late(clip), RATE)}
    assert scored["ovrl_by_presentation"] == {k: pytest.approx(v["ovrl"]) for k, v in each.items()}
    for key in ("sig", "bak", "ovrl", "p808"):
        assert scored[key] == pytest.approx(np.mean([v[key] for v in each.values()]))
    # +20 dB drives the 0.2-peak clip far past full scale: played as a real output would, clipped
    clipped = dnsmos_averaged(clip, RATE, gains_db=[20.0])
    assert clipped["ovrl"] == pytest.approx(dnsmos(np.clip(clip * 10.0, -1, 1), RATE)["ovrl"])
    assert dnsmos_averaged(clip, RATE)["ovrl"] == pytest.approx(each["+0 dB, 0 ms"]["ovrl"])
    with pytest.raises(ValueError):
        dnsmos_averaged(clip, RATE, gains_db=[])


def _centroids():
    eye = np.eye(4)
    return {name: eye[i] for i, name in enumerate(("a", "b", "c", "d"))}


def test_singer_identification_ranks_and_chance():
    centroids = _centroids()
    near_b = np.array([0.1, 0.9, 0.3, 0.0])  # b nearest, then c, then a
    assert singer_ranks(near_b, centroids)[:3] == ["b", "c", "a"]
    result = singer_identification([("b", near_b), ("c", near_b), ("d", near_b)], centroids)
    assert result["top1"] == pytest.approx(1 / 3)
    assert result["mean_rank"] == pytest.approx((1 + 2 + 4) / 3)
    assert result["chance"] == 0.25 and result["chance_mean_rank"] == 2.5


def test_distance_bands_have_inclusive_upper_edges_and_ignore_sign():
    assert [distance_band(x) for x in (0.0, -5.0, 5.01, 12.0, -12.5, 30.0)] == \
        ["<=5", "<=5", "5-12", "5-12", ">12", ">12"]


def test_identification_is_broken_down_by_distance_from_the_singers_range():
    centroids = _centroids()
    outputs = [("a", centroids["a"], 1.0), ("b", centroids["a"], -3.0),   # near: 1 of 2
               ("c", centroids["c"], 7.0),                                # middle: 1 of 1
               ("d", centroids["a"], 15.0), ("a", centroids["b"], -20.0)]  # far: 0 of 2
    result = identification_by_distance(outputs, centroids)
    assert list(result) == ["<=5", "5-12", ">12"]
    assert [result[b]["top1"] for b in result] == [0.5, 1.0, 0.0]
    assert [result[b]["n"] for b in result] == [2, 1, 2]
    assert list(identification_by_distance(outputs[2:3], centroids)) == ["5-12"]


def test_identification_by_singer_counts_each_singers_hits_and_whom_its_misses_went_to():
    centroids = _centroids()
    outputs = [("a", centroids["a"]), ("a", centroids["b"]), ("a", centroids["c"]), ("a", centroids["b"]),
               ("d", centroids["d"]), ("c", centroids["a"])]
    result = identification_by_singer(outputs, centroids)
    assert list(result) == ["a", "c", "d"]  # only asked-for singers, sorted
    assert result["a"] == {"top1": 1, "n": 4, "heard_as": {"b": 2, "c": 1}}
    assert list(result["a"]["heard_as"]) == ["b", "c"]  # most often first
    assert result["d"] == {"top1": 1, "n": 1, "heard_as": {}}
    assert result["c"]["top1"] == 0 and result["c"]["heard_as"] == {"a": 1}
    # the pooled top-1 is the per-singer hits over all outputs
    pooled = singer_identification(outputs, centroids)["top1"]
    assert pooled == pytest.approx(sum(r["top1"] for r in result.values()) / len(outputs))


def test_spread_compares_outputs_with_the_singers_themselves():
    centroids = _centroids()  # orthogonal singers: cosine 0 between them
    alike = {"src": {"a": np.array([1.0, 0.1, 0, 0]), "b": np.array([1.0, 0.0, 0.1, 0])}}
    result = spread(alike, centroids)
    assert result["singers_cosine"] == pytest.approx(0.0)
    assert result["outputs_cosine"] > 0.9
    apart = {"src": {"a": centroids["a"], "b": centroids["b"]}}
    assert spread(apart, centroids)["outputs_cosine"] == pytest.approx(0.0)
