"""Pitch extraction: accuracy on synthetic voices with known F0, voicing, alignment, helpers."""

from typing import Callable

import numpy as np
import pytest
import torch

from core.config import load_config
from core.errors import UserError
from core.features.pitch import (
    PITCH_METHODS, UnvoicedHold, get_pitch_extractor, interpolate_unvoiced, pitch_extractor_from_config,
    shift_f0,
)

SR, HOP = 24000, 128
EDGE = 6  # frames ignored at each end, where analysis windows run off the signal


def _vibrato(centre: float, cents: float, rate: float = 5.5) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: centre * 2.0 ** (cents / 1200.0 * np.sin(2 * np.pi * rate * t))


def _glide(start: float, end: float, seconds: float, vibrato_cents: float = 0.0) -> Callable:
    return lambda t: start * (end / start) ** (t / seconds) * 2.0 ** (vibrato_cents / 1200 * np.sin(2 * np.pi * 5 * t))


CASES: dict[str, tuple[Callable, float]] = {  # name -> (F0 as a function of time, spectral tilt)
    "low-glide": (_glide(80.0, 250.0, 0.75, 30.0), 2.0),  # glottal-like steep tilt
    "mid-vibrato": (_vibrato(220.0, 60.0), 1.0),  # sawtooth-like 1/k harmonics
    "high-glide": (_glide(500.0, 1000.0, 0.75, 20.0), 1.0),
    "top-vibrato": (_vibrato(950.0, 40.0, 6.0), 1.5),
}
SECONDS = 0.75


def _voice(f0_of_t: Callable, tilt: float, seconds: float = SECONDS, snr_db: float = 25.0, seed: int = 0) -> np.ndarray:
    """Band-limited harmonic source with amplitudes 1/k^tilt following f0_of_t, plus white noise."""
    n = int(SR * seconds)
    f0 = f0_of_t(np.arange(n) / SR)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    audio = np.zeros(n)
    for k in range(1, int(SR / 2 / f0.min()) + 1):
        audio += np.where(k * f0 < 0.45 * SR, k ** -tilt, 0.0) * np.sin(k * phase)
    audio *= 0.3 / np.max(np.abs(audio))
    rng = np.random.default_rng(seed)
    audio += rng.standard_normal(n) * np.sqrt(np.mean(audio ** 2)) * 10 ** (-snr_db / 20)
    return audio.astype(np.float32)


def _truth(f0_of_t: Callable, n_frames: int) -> np.ndarray:
    return f0_of_t((np.arange(n_frames) + 0.5) * HOP / SR)  # mel frame centres


@pytest.fixture(scope="module")
def extractors():
    cache = {}

    def get(method: str):
        if method not in cache:
            cache[method] = get_pitch_extractor(method, sample_rate=SR, hop_length=HOP)
        return cache[method]

    return get


def _accuracy_params():
    for method in PITCH_METHODS:
        for case in CASES:
            # crepe-full costs ~2.4 s per second of audio on one core: its cases are long checks (crepe-tiny,
            # the same code with smaller weights, runs them all; crepe-full's weights still load and run in
            # the no-voicing test below)
            slow = method == "crepe-full"
            yield pytest.param(method, case, marks=[pytest.mark.slow] if slow else [], id=f"{method}-{case}")


@pytest.mark.parametrize("method,case", list(_accuracy_params()))
def test_median_error_under_20_cents(extractors, method, case):
    f0_of_t, tilt = CASES[case]
    audio = _voice(f0_of_t, tilt)
    track = extractors(method).extract(audio)
    n = len(audio) // HOP
    assert track.f0.shape == (n,) and track.voiced.shape == (n,)
    assert track.f0.dtype == np.float32 and track.voiced.dtype == bool
    voiced = track.voiced[EDGE:-EDGE]
    assert voiced.mean() > 0.9, f"{method} found only {voiced.mean():.0%} voiced frames"
    cents = 1200 * np.abs(np.log2(track.f0[EDGE:-EDGE][voiced] / _truth(f0_of_t, n)[EDGE:-EDGE][voiced]))
    assert np.median(cents) < 20.0
    assert (track.f0[~track.voiced] == 0).all()


@pytest.mark.parametrize("method", PITCH_METHODS)
def test_no_voicing_in_silence_or_very_low_noise(extractors, method):
    extractor = extractors(method)
    silence = extractor.extract(np.zeros(SR // 4, np.float32))
    assert not silence.voiced.any() and (silence.f0 == 0).all()
    hiss = (np.random.default_rng(1).standard_normal(SR // 4) * 1e-4).astype(np.float32)  # -80 dBFS
    assert not extractor.extract(hiss).voiced.any()


@pytest.mark.parametrize("method", ["dio", "fcpe"])
def test_frames_are_centred_like_mel_frames(extractors, method):
    # On a fast glide (about 2000 cents/s) a half-frame (2.7 ms) misalignment would bias by ~5 cents.
    f0_of_t = _glide(150.0, 500.0, SECONDS)
    audio = _voice(f0_of_t, 1.0, snr_db=40.0)
    track = extractors(method).extract(audio)
    n = len(track.f0)
    signed = 1200 * np.log2(track.f0[EDGE:-EDGE] / _truth(f0_of_t, n)[EDGE:-EDGE])
    assert abs(np.median(signed[track.voiced[EDGE:-EDGE]])) < 2.5


def test_frame_count_and_short_input(extractors):
    dio = extractors("dio")
    audio = _voice(*CASES["mid-vibrato"], seconds=0.3)
    assert len(dio.extract(audio)) == len(audio) // HOP
    assert len(dio.extract(audio, n_frames=len(audio) // HOP + 3)) == len(audio) // HOP + 3
    assert len(dio.extract(audio, n_frames=10)) == 10
    assert len(dio.extract(audio[:300])) == 2
    assert len(dio.extract(audio[:100])) == 0


def test_loud_noise_onset_does_not_leak_voicing_into_silence(extractors):
    audio = np.zeros(SR // 2, np.float32)
    audio[SR // 4:] = _voice(*CASES["mid-vibrato"], seconds=0.25)
    track = extractors("dio").extract(audio)
    onset_frame = (SR // 4) // HOP
    assert not track.voiced[: onset_frame - 3].any()
    assert track.voiced[onset_frame + 5: -EDGE].all()


def test_unknown_method_is_a_user_error():
    with pytest.raises(UserError, match="unknown pitch method 'yin'.*dio"):
        get_pitch_extractor("yin")


def test_bad_device_is_a_user_error():
    with pytest.raises(UserError, match="device"):
        get_pitch_extractor("dio", device="no-such-device")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA"):
            get_pitch_extractor("fcpe", device="cuda")


def test_extractor_from_config_uses_its_settings():
    cfg = load_config("paper")
    extractor = pitch_extractor_from_config(cfg.features, cfg.audio)
    assert extractor.name == cfg.features.f0_method
    assert (extractor.f0_floor, extractor.f0_ceil) == (cfg.features.f0_floor, cfg.features.f0_ceil)
    assert extractor.hop_length == cfg.audio.hop_length and extractor.sample_rate == cfg.audio.sample_rate
    assert pitch_extractor_from_config(cfg.features, cfg.audio, method="harvest").name == "harvest"


def test_interpolate_unvoiced_linear_inside_held_at_edges():
    f0 = np.array([0, 0, 100, 0, 0, 0, 200, 0], np.float32)
    filled = interpolate_unvoiced(f0, f0 > 0)
    assert np.allclose(filled, [100, 100, 100, 125, 150, 175, 200, 200])
    assert (interpolate_unvoiced(np.zeros(4), np.zeros(4, bool)) == 0).all()


def test_shift_f0_fractional_semitones_keeps_unvoiced():
    f0 = np.array([0.0, 220.0, 440.0], np.float32)
    assert np.allclose(shift_f0(f0, 12), [0, 440, 880])
    assert np.allclose(shift_f0(f0, -0.5), f0 * 2 ** (-0.5 / 12))
    assert shift_f0(f0, 3).dtype == np.float32


def test_unvoiced_hold_streams_without_future():
    hold = UnvoicedHold()
    first = hold.process(np.array([0, 110, 0, 120], np.float32), np.array([0, 1, 0, 1], bool))
    assert np.allclose(first, [0, 110, 110, 120])
    second = hold.process(np.array([0, 0, 130], np.float32), np.array([0, 0, 1], bool))
    assert np.allclose(second, [120, 120, 130])  # carried across the block boundary
    assert np.allclose(hold.preview(np.array([140, 0], np.float32), np.array([1, 0], bool)), [140, 140])
    assert np.allclose(hold.process(np.zeros(1, np.float32), np.zeros(1, bool)), [130])  # the preview held nothing
    hold.reset()
    assert np.allclose(hold.process(np.zeros(2, np.float32), np.zeros(2, bool)), [0, 0])


def test_fcpe_prints_nothing_even_past_full_scale(extractors, capsys):
    loud = 1.5 * _voice(*CASES["mid-vibrato"], seconds=0.3) / 0.3
    track = extractors("fcpe").extract(loud)
    assert capsys.readouterr().out == ""  # stdout stays clean for --json output
    assert track.voiced[EDGE:-EDGE].mean() > 0.9


def test_fcpe_int8_weights_track_like_the_float_model(extractors):
    """The live default runs FCPE on int8 weights; it must agree with the float network."""
    quantized = extractors("fcpe")
    assert quantized.int8
    float_model = get_pitch_extractor("fcpe", int8=False)
    assert not float_model.int8
    for name in ("low-glide", "mid-vibrato", "high-glide"):
        f0_of_t, tilt = CASES[name]
        audio = _voice(f0_of_t, tilt)
        a, b = quantized.extract(audio), float_model.extract(audio)
        both = a.voiced & b.voiced
        assert both[EDGE:-EDGE].mean() > 0.9
        cents = 1200 * np.abs(np.log2(a.f0[both] / b.f0[both]))
        assert np.median(cents) < 5.0 and np.percentile(cents, 95) < 25.0, name


def test_fcpe_through_its_trace_gives_the_same_pitch_at_any_length(extractors):
    """The live default runs FCPE's network through a trace made on a dummy input (traced_network.py);
    windows of other lengths, live blocks and whole clips, must give exactly the eager network's F0."""
    traced = extractors("fcpe")
    assert isinstance(traced.network_trace, torch.jit.ScriptModule)
    eager = get_pitch_extractor("fcpe", traced=False)
    audio = _voice(*CASES["mid-vibrato"], seconds=1.5)
    for frames in (51, 52, 77, len(audio) // HOP):
        window = audio[:frames * HOP]
        a, b = traced.extract(window, frames), eager.extract(window, frames)
        np.testing.assert_array_equal(a.f0, b.f0)
        np.testing.assert_array_equal(a.voiced, b.voiced)
