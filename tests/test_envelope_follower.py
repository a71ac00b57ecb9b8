"""The output's loudness follows the input's: what the model renders louder than its input is ducked."""

import numpy as np
import pytest

from core.audio.envelope import HEADROOM_DB, EnvelopeFollower, follow_input_envelope
from core.convert.offline import follow_input
from realtime.converter import ConvertResult
from realtime.plugins import ConverterPlugin

SR = 24000


def noise(seconds: float, level: float, seed: int) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


def test_output_at_its_inputs_level_is_untouched_to_the_sample():
    x = noise(1.0, 0.1, 0)
    same_level = noise(1.0, 0.1 * 10 ** (HEADROOM_DB / 40), 1)  # within the headroom
    assert np.array_equal(follow_input_envelope(x, x, SR), x)
    out = follow_input_envelope(x, same_level, SR)
    assert np.mean(out == same_level) > 0.95


def test_murmur_over_a_quiet_pause_is_ducked_to_the_pause():
    # a phrase, a 1 s pause at -90 dBFS, a phrase; the model fills the pause with a -40 dBFS murmur
    phrase, pause = noise(0.5, 0.1, 2), noise(1.0, 10 ** (-90 / 20), 3)
    x = np.concatenate([phrase, pause, phrase])
    y = np.concatenate([noise(0.5, 0.1, 4), noise(1.0, 0.01, 5), noise(0.5, 0.1, 6)])
    out = follow_input_envelope(x, y, SR)
    ring = slice(int(0.5 * SR), int(0.53 * SR))     # the pause's first 30 ms: the phrase's tail rings on
    assert rms_db(out[ring]) > rms_db(y[ring]) - 3
    decayed = slice(int(0.75 * SR), int(0.85 * SR))  # 250-350 ms in: well under the murmur
    assert rms_db(out[decayed]) < rms_db(y[decayed]) - 20
    settled = slice(int(1.0 * SR), int(1.45 * SR))  # from 500 ms into the pause to its end
    assert rms_db(out[settled]) < rms_db(x[settled]) + HEADROOM_DB + 0.5
    assert abs(rms_db(out[int(1.6 * SR):]) - rms_db(y[int(1.6 * SR):])) < 0.1   # the next phrase is back


@pytest.mark.parametrize("spread", [0, 240])
def test_any_split_into_blocks_gives_the_whole_file_result(spread):
    x = np.concatenate([noise(0.4, 0.2, 7), noise(0.3, 1e-4, 8), noise(0.4, 0.2, 9)])
    y = noise(len(x) / SR, 0.05, 10)
    latency = 700
    delayed_y = np.concatenate([np.zeros(latency, np.float32), y])[:len(x)]
    whole = delayed_y.copy()
    EnvelopeFollower(SR, latency, spread=spread).process(x, whole)
    assert not np.array_equal(whole, delayed_y)   # it did duck something
    follower, out, at = EnvelopeFollower(SR, latency, spread=spread), delayed_y.copy(), 0
    for size in np.random.default_rng(11).integers(1, 2000, size=100):
        follower.process(x[at:at + size], out[at:at + size])
        at += int(size)
        if at >= len(x):
            break
    assert at >= len(x)
    np.testing.assert_array_equal(out, whole)


def test_an_onset_slightly_ahead_of_its_input_is_not_ducked():
    x = np.concatenate([np.zeros(SR // 2, np.float32), noise(0.5, 0.1, 12)])
    early = np.roll(x, -int(0.003 * SR))    # the model sings 3 ms before its input's onset
    out = follow_input_envelope(x, early, SR)
    loud = np.abs(early) > 0.01
    assert np.min(out[loud] / early[loud]) > 0.99


@pytest.mark.parametrize("shift_ms", [-10.0, 10.0])
def test_with_a_spread_an_output_off_its_latency_by_up_to_it_is_not_ducked(shift_ms):
    latency, spread = 2000, 240                       # 240 samples: balanced's 10 ms SOLA search
    x = np.concatenate([np.zeros(SR // 2, np.float32), noise(0.5, 0.1, 17), np.zeros(SR // 2, np.float32)])
    delayed = np.concatenate([np.zeros(latency, np.float32), x])[:len(x)]
    moved = np.roll(delayed, int(shift_ms * SR / 1000))   # SOLA put this block early (-) or late (+)
    out = moved.copy()
    EnvelopeFollower(SR, latency, spread=spread).process(x, out)
    loud = np.abs(moved) > 0.01
    assert np.min(out[loud] / moved[loud]) > 0.99
    if shift_ms < 0:  # early: without the spread its onset was ducked (late tails fall within the headroom)
        without = moved.copy()
        EnvelopeFollower(SR, latency).process(x, without)
        assert np.min(without[loud] / moved[loud]) < 0.5


class MurmuringConverter:
    """Plays its input back exactly (aligned, no SOLA) with a constant murmur on top, as the model renders
    a murmur over quiet input."""

    description, sample_rate, uses_sola, extra_latency_samples, f0_methods = "murmur", SR, False, 0, []

    def prepare(self, block: int, context: int, lookahead: int) -> None:
        pass

    def reset(self) -> None:
        pass

    def convert(self, window, out_start, out_len, controls) -> ConvertResult:
        audio = window[out_start:out_start + out_len] + np.float32(0.01)
        return ConvertResult(audio.astype(np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32))


def test_the_live_converter_ducks_the_murmur_as_offline_conversion_does():
    block, lookahead = 480, 768
    plugin = ConverterPlugin(MurmuringConverter(), context=2400, lookahead=lookahead, crossfade=0, search=0)
    plugin.prepare(SR, block)
    assert plugin.envelope.spread == 0   # no SOLA search here, so nothing to read across
    x = np.concatenate([noise(0.5, 0.1, 13), noise(1.0, 10 ** (-90 / 20), 14), noise(0.5, 0.1, 15)])
    fed = np.concatenate([x, np.zeros(lookahead + block, np.float32)])
    played = []
    for at in range(0, len(fed) - block + 1, block):
        chunk = fed[at:at + block].copy()
        plugin.process(chunk)
        played.append(chunk)
    live = np.concatenate(played)[lookahead:lookahead + len(x)]
    offline = follow_input(x, x + np.float32(0.01), SR)
    pause = slice(int(0.8 * SR), int(1.45 * SR))
    assert rms_db(live[pause]) < -70             # the murmur (-40 dBFS) is gone from the pause
    assert abs(rms_db(live[:SR // 2]) - rms_db(x[:SR // 2] + 0.01)) < 0.1   # the phrase plays as it was
    np.testing.assert_allclose(live, offline, atol=1e-6)


def test_a_quiet_pause_stays_quiet_in_a_default_model_conversion():
    from core.convert import VoiceModel, convert_audio
    from core.models import default_model_path

    if default_model_path() is None:
        pytest.skip("no default model installed")
    model = VoiceModel.load(None)
    rate = model.sample_rate
    t = np.arange(rate) / rate
    phrase = (0.2 * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t)))).astype(np.float32)
    room = (10 ** (-80 / 20) * np.random.default_rng(16).standard_normal(rate)).astype(np.float32)  # not silence
    x = np.concatenate([phrase, room, phrase])
    out, _, _ = convert_audio(model, x, rate, model.singers.names[0])
    settled = slice(rate + rate // 2, 2 * rate - rate // 20)
    assert rms_db(out[settled]) < rms_db(x[settled]) + HEADROOM_DB + 1   # the model's murmur is ducked
    assert rms_db(out[2 * rate + rate // 10:]) > -35                      # the phrase after it plays
