"""bench_stream.py: --stages add up to the push and each is really timed; --pitch-thread, --dilated and --traced
time the two ways they name."""

from __future__ import annotations

import time

import numpy as np
import torch
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


def test_retrieval_is_timed_as_its_own_stage_only_when_on(tmp_path):
    import torch

    from core.convert import VoiceModel
    from core.features.retrieval import SingerIndex
    from core.train.retrieval_index import write_index

    bench = load_bench("bench_stream")
    tiny = build_tiny_model(tmp_path / "tiny.safetensors")
    write_index(tiny.path, SingerIndex([torch.randn(64, tiny.content_encoder.dim) for _ in range(2)]),
                tmp_path / "indexed.safetensors")
    model = VoiceModel.load(tmp_path / "indexed.safetensors")
    off = bench.time_stages(model, 256, 4, "dio", 0.0)
    on = bench.time_stages(model, 256, 4, "dio", 1.0)
    assert off["median_ms"]["retrieval"] == 0.0 and on["median_ms"]["retrieval"] > 0.0
    assert "blend" not in vars(model.retrieval)  # unwrapped afterwards


def test_against_reports_the_slower_model_as_a_ratio_above_one(tmp_path):
    """--against: two models timed alternately; a vocoder 20 ms slower a push shows in its stage's ratio only."""
    from core.convert import VoiceModel

    bench = load_bench("bench_stream")
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    other = VoiceModel.load(tmp_path / "tiny.safetensors")
    make_stream = other.vocoder.stream

    def slow_stream(*args, **kwargs):
        stream = make_stream(*args, **kwargs)
        process = stream.process

        def slow(*a, **k):
            time.sleep(0.02)
            return process(*a, **k)

        stream.process = slow
        return stream

    other.vocoder.stream = slow_stream
    row = bench.compare_stages(model, other, 256, 4, "dio", rounds=2)
    assert row["rounds"] == 2 and set(row["ratio"]) == {*bench.STAGES, "rest", "total"}
    assert row["against_ms"]["vocoder"] >= row["model_ms"]["vocoder"] + 18.0
    assert row["ratio"]["vocoder"] > 1.5 and row["ratio"]["total"] > 1.0
    assert row["against_ms"]["acoustic"] < row["model_ms"]["acoustic"] + 10.0  # not put on another stage
    assert abs(row["ratio"]["vocoder"] - row["against_ms"]["vocoder"] / row["model_ms"]["vocoder"]) < 0.01


def test_against_without_stages_or_with_a_missing_file_is_one_error_line(tmp_path, monkeypatch, capsys):
    import pytest

    bench = load_bench("bench_stream")
    model = tmp_path / "tiny.safetensors"
    build_tiny_model(model)
    for argv, message in ((["--model", str(model), "--against", str(model)], "add --stages"),
                          (["--model", str(model), "--stages", "--against", str(tmp_path / "gone.safetensors")],
                           "model file not found")):
        monkeypatch.setattr("sys.argv", ["bench_stream.py", *argv])
        with pytest.raises(SystemExit) as exit_info:
            bench.main()
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_pitch_thread_overlaps_the_tracker_with_the_content_encoder(tmp_path, monkeypatch):
    from core.features.content_stream import BuiltinContentStream
    from core.features.pitch_world import WorldPitch

    bench = load_bench("bench_stream")
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    # Both stages made 20 ms slower, waiting as native code does (the GIL released): on the pitch thread
    # the two waits overlap, on the caller's thread they add up.
    for cls, name in ((WorldPitch, "extract"), (BuiltinContentStream, "push")):
        original = getattr(cls, name)

        def slow(self, *args, _original=original, **kwargs):
            time.sleep(0.02)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, slow)
    row = bench.compare_pitch_thread(model, 256, 4, "dio", rounds=1)
    assert row["serial_ms"] >= 40.0
    assert row["threaded_ms"] < row["serial_ms"] - 12.0 and row["ratio"] < 0.8
    assert row["same_samples"]


def test_dilated_ways_are_told_apart_and_give_the_same_sound(tmp_path, monkeypatch):
    import core.dilated_conv as dilated

    bench = load_bench("bench_stream")
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    to_torch = []  # dilated convolutions of one sequence that reached torch's own kernel
    conv1d = dilated.F.conv1d

    def spy(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        step = dilation if isinstance(dilation, int) else dilation[0]  # modules pass a tuple
        if not torch.jit.is_tracing() and x.shape[0] == 1 and step > 1:  # (the denoiser's trace is recorded too)
            to_torch.append(step)
        return conv1d(x, weight, bias, stride, padding, dilation, groups)

    monkeypatch.setattr(dilated.F, "conv1d", spy)
    _, shipped = bench.time_pushes(model, 256, 3, "dio")
    assert to_torch == []
    _, before = bench.time_pushes(model, 256, 3, "dio", torch_dilated=True)
    assert to_torch
    import core.vocoder.builtin as vocoder

    assert vocoder.dilated_conv1d is dilated.dilated_conv1d  # the context puts the shipped way back
    row = bench.compare_dilated(model, 256, 3, "dio", rounds=1)
    assert row["torch_ms"] > 0 and row["matrix_ms"] > 0
    assert row["max_sample_difference"] < 1e-4 * max(1.0, float(np.abs(shipped).max()))
    assert np.allclose(shipped, before, atol=1e-4)


def test_traced_and_eager_denoiser_ways_are_told_apart_and_give_the_same_sound(tmp_path, monkeypatch):
    from core.model import wavenet

    bench = load_bench("bench_stream")
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    layer_calls = []  # the WaveNet's layers run in Python: eagerly, or while a trace is recorded
    eager_layer = wavenet.ResidualLayer.forward

    def spy(self, *args):
        layer_calls.append(1)
        return eager_layer(self, *args)

    monkeypatch.setattr(wavenet.ResidualLayer, "forward", spy)
    bench.time_pushes(model, 256, 3, "dio")  # the first stream traces the network
    assert model.generator.network in wavenet._TRACES
    layer_calls.clear()
    _, traced = bench.time_pushes(model, 256, 3, "dio")
    assert layer_calls == []
    _, eager = bench.time_pushes(model, 256, 3, "dio", eager=True)
    assert layer_calls
    assert model.generator.network in wavenet._TRACES  # set back for the shipped way
    np.testing.assert_array_equal(traced, eager)
    row = bench.compare_traced(model, 256, 3, "dio", rounds=1)
    assert row["eager_ms"] > 0 and row["traced_ms"] > 0 and row["same_samples"]
