"""ConversionStream and offline conversion on a tiny random model (shapes, exactness, controls)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from convert_fixtures import MEDIANS, SINGERS, build_tiny_model, sung_tone
from core.convert import ConversionStream, VoiceModel, convert_audio, exact_lookahead
from core.convert.offline import follow_input
from core.errors import ModelFileError, UserError
from core.features.pitch import PitchTrack

HOP = 128


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> VoiceModel:
    return build_tiny_model(tmp_path_factory.mktemp("convert") / "tiny.safetensors")


@pytest.fixture(scope="module")
def tone() -> np.ndarray:
    return sung_tone(0.8)


class RecordingVocoderStream:
    """Wraps a vocoder stream and keeps the f0 of every block it is given."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.f0: list[np.ndarray] = []

    def process(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        self.f0.append(f0.numpy().copy())
        return self.inner.process(log_mel, f0)

    def reset(self) -> None:
        self.inner.reset()


def test_load_round_trip_keeps_singers_medians_and_teacher(model: VoiceModel) -> None:
    assert model.singers.names == list(SINGERS)
    assert model.singer_f0_median_hz == MEDIANS
    assert model.teacher is not None and model.generator is not model.teacher
    assert model.pitch_extractor("dio") is model.pitch_extractor("dio")


def test_file_without_vocoder_is_a_clear_error(model: VoiceModel, tmp_path) -> None:
    from core.model.model_file import save_model

    path = tmp_path / "partial.safetensors"
    save_model(path, model.config, SINGERS, student=model.generator)
    with pytest.raises(ModelFileError, match="no content part|no vocoder part"):
        VoiceModel.load(path)


def test_random_block_streaming_equals_offline(model: VoiceModel, tone: np.ndarray) -> None:
    offline, rate, _ = convert_audio(model, tone, 24000, "alto")
    assert rate == 24000 and len(offline) == len(tone)
    track = model.pitch_extractor().extract(tone)
    stream = ConversionStream(model, "alto", lookahead_frames=exact_lookahead(model), f0_track=track)
    rng = np.random.default_rng(3)
    padded = np.pad(tone, (0, stream.latency_samples + HOP * 40))
    pieces, pos = [], 0
    while pos < stream.latency_samples + len(tone):
        size = int(rng.integers(1, 20)) * HOP
        block = padded[pos:pos + size]
        out = stream.push(block)
        assert len(out) == len(block)
        pieces.append(out)
        pos += size
    streamed = np.concatenate(pieces)[stream.latency_samples:stream.latency_samples + len(tone)]
    streamed = follow_input(tone, streamed, 24000)  # offline ducks and mutes as the live engine does
    assert np.abs(offline).max() > 0
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_two_block_sizes_give_identical_files(model: VoiceModel, tone: np.ndarray) -> None:
    a, _, _ = convert_audio(model, tone, 24000, "bass", block_seconds=0.1)
    b, _, _ = convert_audio(model, tone, 24000, "bass", block_seconds=0.37)
    np.testing.assert_allclose(a, b, atol=1e-5)
    c, _, _ = convert_audio(model, tone, 24000, "alto", block_seconds=0.1)
    assert np.abs(a - c).max() > 1e-6  # the singer reaches the output


def test_output_length_matches_any_input_length_and_rate(model: VoiceModel) -> None:
    audio = sung_tone(0.3, rate=16000)[:4801]
    out, rate, report = convert_audio(model, audio, 16000, "alto", out_rate=22050)
    assert rate == 22050 and report.output_rate == 22050
    assert abs(len(out) - round(len(audio) * 22050 / 16000)) <= 1
    assert np.isfinite(out).all()


def test_pitch_control_shifts_the_vocoder_f0(model: VoiceModel, tone: np.ndarray) -> None:
    track = model.pitch_extractor().extract(tone)
    assert track.voiced.sum() > 20
    recorded = []
    for semitones in (0.0, 12.0):
        stream = ConversionStream(model, "alto", pitch=semitones, lookahead_frames=4, f0_track=track)
        spy = RecordingVocoderStream(stream._vocoder_stream)
        stream._vocoder_stream = spy
        for pos in range(0, len(tone) - len(tone) % HOP, 8 * HOP):
            stream.push(np.pad(tone[pos:pos + 8 * HOP], (0, max(0, pos + 8 * HOP - len(tone)))))
        recorded.append(np.concatenate(spy.f0))
    base, up = recorded
    voiced = base > 0
    assert voiced.sum() > 20
    np.testing.assert_allclose(up[voiced] / base[voiced], 2.0, rtol=1e-4)
    np.testing.assert_array_equal(up[~voiced], 0.0)


def test_pitch_change_applies_from_the_next_frames(model: VoiceModel) -> None:
    track = PitchTrack(np.full(200, 200.0, np.float32), np.ones(200, bool))
    stream = ConversionStream(model, "alto", lookahead_frames=3, f0_track=track)
    spy = RecordingVocoderStream(stream._vocoder_stream)
    stream._vocoder_stream = spy
    noise = np.random.default_rng(0).standard_normal(200 * HOP).astype(np.float32) * 0.1
    stream.push(noise[:50 * HOP])
    stream.set_pitch(-12.0)
    stream.push(noise[50 * HOP:100 * HOP])
    f0 = np.concatenate(spy.f0)  # output frame i is input frame i - 3
    assert np.allclose(f0[3:53], 200.0) and np.allclose(f0[53:], 100.0)


def test_live_f0_path_streams_with_constant_latency(model: VoiceModel, tone: np.ndarray) -> None:
    stream = ConversionStream(model, "alto", lookahead_frames=2)
    assert stream.latency_samples == 2 * HOP
    out = np.concatenate([stream.push(tone[p:p + 4 * HOP]) for p in range(0, 40 * HOP, 4 * HOP)])
    assert len(out) == 40 * HOP and np.isfinite(out).all()
    stream.reset()
    again = np.concatenate([stream.push(tone[p:p + 4 * HOP]) for p in range(0, 40 * HOP, 4 * HOP)])
    np.testing.assert_allclose(again, out, atol=1e-6)


class EdgeBlindPitch:
    """A tracker that, like DIO, misjudges the newest frame it is given: unvoiced there, 200 Hz elsewhere."""

    def __init__(self, revise_at_lookahead: bool) -> None:
        self.revise_at_lookahead = revise_at_lookahead

    def extract(self, audio: np.ndarray, n_frames: int) -> PitchTrack:
        voiced = np.ones(n_frames, bool)
        voiced[-1] = False
        return PitchTrack(np.where(voiced, 200.0, 0.0).astype(np.float32), voiced)


@pytest.mark.parametrize("revise", [True, False])
def test_the_vocoder_gets_pitch_estimated_after_the_lookahead_arrived(model: VoiceModel, revise: bool) -> None:
    stream = ConversionStream(model, "alto", pitch=12.0, lookahead_frames=2)
    stream._extractor = EdgeBlindPitch(revise)
    spy = RecordingVocoderStream(stream._vocoder_stream)
    stream._vocoder_stream = spy
    noise = np.random.default_rng(1).standard_normal(60 * HOP).astype(np.float32) * 0.1
    for pos in range(0, len(noise), 4 * HOP):
        stream.push(noise[pos:pos + 4 * HOP])
    played = np.concatenate(spy.f0)[8:]  # past the zero history
    if revise:  # every frame was estimated again with 2 frames after it: none is at the edge
        np.testing.assert_allclose(played, 400.0)
    else:  # each push's newest frame stays as misjudged at the edge
        assert np.count_nonzero(played == 0.0) == len(played) // 4
    # the condition's gaps are held from the last final estimate, whatever the edge said
    assert np.all(stream._f0_cond[-40:] == pytest.approx(400.0))


class ThreadNotingPitch:
    """The model's own tracker, noting the thread of each call; optionally failing on the n-th."""

    def __init__(self, inner, fail_on: int = 0) -> None:
        self.inner, self.fail_on, self.threads = inner, fail_on, []
        self.revise_at_lookahead = inner.revise_at_lookahead

    def extract(self, audio: np.ndarray, n_frames: int) -> PitchTrack:
        self.threads.append(threading.get_ident())
        if len(self.threads) == self.fail_on:
            raise RuntimeError("tracker failed")
        return self.inner.extract(audio, n_frames)


def test_the_pitch_thread_tracks_off_the_caller_and_changes_no_sample(model: VoiceModel, tone: np.ndarray) -> None:
    outputs, threads = {}, {}
    for on in (False, True):
        stream = ConversionStream(model, "alto", pitch=3.0, lookahead_frames=2, pitch_thread=on)
        stream._extractor = ThreadNotingPitch(stream._extractor)
        outputs[on] = np.concatenate([stream.push(tone[p:p + 4 * HOP]) for p in range(0, 40 * HOP, 4 * HOP)])
        threads[on] = set(stream._extractor.threads)
    assert threads[False] == {threading.get_ident()}
    assert len(threads[True]) == 1 and threading.get_ident() not in threads[True]
    np.testing.assert_array_equal(outputs[True], outputs[False])


def test_a_tracker_error_on_the_pitch_thread_reaches_the_caller(model: VoiceModel, tone: np.ndarray) -> None:
    stream = ConversionStream(model, "alto", lookahead_frames=2)
    stream._extractor = ThreadNotingPitch(stream._extractor, fail_on=3)
    stream.push(tone[:4 * HOP])
    stream.push(tone[4 * HOP:8 * HOP])
    with pytest.raises(RuntimeError, match="tracker failed"):
        stream.push(tone[8 * HOP:12 * HOP])
    assert np.isfinite(stream.push(tone[12 * HOP:16 * HOP])).all()  # the thread still serves the next push


def test_bad_block_and_steps_are_refused(model: VoiceModel) -> None:
    stream = ConversionStream(model, "alto")
    with pytest.raises(ValueError, match="multiple of hop"):
        stream.push(np.zeros(100, np.float32))
    with pytest.raises(UserError, match="teacher-N"):
        stream.set_steps("3")


def test_silence_gives_silence_and_says_so(model: VoiceModel) -> None:
    out, _, report = convert_audio(model, np.zeros(5000, np.float32), 24000, "alto")
    assert report.silent and "silent" in " ".join(report.notes)
    assert len(out) == 5000 and not out.any()


def test_unknown_singer_lists_names(model: VoiceModel, tone: np.ndarray) -> None:
    with pytest.raises(UserError, match="alto, bass"):
        convert_audio(model, tone, 24000, "tenor")


def test_auto_transpose_moves_to_the_singer_median(model: VoiceModel, tone: np.ndarray) -> None:
    _, _, report = convert_audio(model, tone, 24000, "alto", pitch=1.0, auto_transpose=True)
    expected = round(12 * np.log2(MEDIANS["alto"] / report.source_f0_median_hz))
    assert report.auto_transpose_semitones == expected != 0
    assert report.pitch_semitones == expected + 1.0


def test_a_conversion_far_from_the_singers_range_says_so(model: VoiceModel, tone: np.ndarray) -> None:
    far = convert_audio(model, tone, 24000, "bass", pitch=3.0)[2]  # 220 Hz + 3 st against 110 Hz: 15 above
    assert any("15 semitones above bass's median pitch" in note for note in far.notes)
    near = convert_audio(model, tone, 24000, "alto")[2]  # 7 below
    moved = convert_audio(model, tone, 24000, "bass", pitch=3.0, auto_transpose=True)[2]
    assert not any("median pitch" in note for note in near.notes + moved.notes)


def test_teacher_steps_run_on_the_same_windows(model: VoiceModel) -> None:
    audio = sung_tone(0.2)
    out, _, report = convert_audio(model, audio, 24000, "alto", steps="teacher-2")
    assert report.steps == "teacher-2" and len(out) == len(audio) and np.isfinite(out).all()


def test_live_controls_change_mid_stream(model: VoiceModel, tone: np.ndarray) -> None:
    stream = ConversionStream(model, "alto", lookahead_frames=3)
    blocks = [tone[p:p + 6 * HOP] for p in range(0, 36 * HOP, 6 * HOP)]
    outputs = [stream.push(blocks[0])]
    for change, block in zip(
        (lambda: stream.set_singer("bass"), lambda: stream.set_steps(4), lambda: stream.set_steps(2),
         lambda: stream.set_f0_method("harvest"), lambda: stream.push(np.zeros(100 * HOP, np.float32))),
        blocks[1:],
    ):
        change()
        outputs.append(stream.push(block))
    assert all(len(o) == 6 * HOP and np.isfinite(o).all() for o in outputs)
    with pytest.raises(UserError, match="alto, bass"):
        stream.set_singer("tenor")


def test_auto_transpose_by_octaves_keeps_the_key(model: VoiceModel, tone: np.ndarray) -> None:
    _, _, report = convert_audio(model, tone, 24000, "bass", auto_transpose="octaves")
    expected = 12 * round(np.log2(MEDIANS["bass"] / report.source_f0_median_hz))
    assert report.auto_transpose_semitones == expected != 0 and expected % 12 == 0
    with pytest.raises(UserError, match="auto-transpose must be one of semitones, octaves"):
        convert_audio(model, tone, 24000, "bass", auto_transpose="fifths")
