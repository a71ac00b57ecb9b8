"""The built-in content encoder streamed frame by frame equals the whole-sequence encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.audio.mel import normalize
from core.config import load_config
from core.convert import ConversionStream
from core.features.content_builtin import BuiltinContentEncoder, moving_instance_norm
from tests.convert_fixtures import build_tiny_model, sung_tone

HOP = 128


@pytest.fixture(scope="module")
def encoder() -> BuiltinContentEncoder:
    torch.manual_seed(1)
    cfg = load_config("tiny").replace({"features.content_channels": 32, "features.content_dim": 8,
                                       "features.content_norm_frames": 16})
    return BuiltinContentEncoder.from_config(cfg).eval()


@pytest.fixture(scope="module")
def audio() -> torch.Tensor:
    rng = np.random.default_rng(0)
    t = np.arange(120 * HOP) / 24000
    tone = 0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.1 * t)) + 0.03 * rng.standard_normal(len(t))
    return torch.from_numpy(tone.astype(np.float32))


def whole_sequence(encoder: BuiltinContentEncoder, audio: torch.Tensor) -> torch.Tensor:
    """Codes of everything pushed, the silence before the first sample included in the mel."""
    padded = torch.cat([torch.zeros(4 * HOP), audio])
    mel = normalize(encoder.mel(padded), encoder.audio_cfg)[:, 4:]
    with torch.no_grad():
        return encoder.network(mel.unsqueeze(0))[0]


@pytest.mark.parametrize("blocks", [[8], [1], [1, 2, 3, 7, 5]])
def test_final_codes_equal_the_whole_sequence_for_any_blocking(encoder, audio, blocks) -> None:
    stream = encoder.stream(200)
    pushed, i = 0, 0
    while pushed + blocks[i % len(blocks)] <= 120:
        n = blocks[i % len(blocks)]
        stream.push(audio[pushed * HOP:(pushed + n) * HOP])
        pushed, i = pushed + n, i + 1
        final = pushed - stream.lag
        if final > 0:
            expected = whole_sequence(encoder, audio[:pushed * HOP])[:final]
            torch.testing.assert_close(stream.latest(pushed)[:final], expected, atol=1e-4, rtol=1e-4)


def test_newest_codes_are_what_a_window_ending_now_gives(encoder, audio) -> None:
    stream = encoder.stream(200)
    for k in range(0, 64, 8):
        stream.push(audio[k * HOP:(k + 8) * HOP])
    window = encoder.encode(audio[:64 * HOP], 64)  # reflect-padded at the end, zeros past it
    newest = stream.latest(stream.lag)
    torch.testing.assert_close(newest, window[-stream.lag:], atol=1e-4, rtol=1e-4)
    # Provisional codes are recomputed, not committed: a later push makes them final and exact.
    stream.push(audio[64 * HOP:72 * HOP])
    expected = whole_sequence(encoder, audio[:72 * HOP])
    torch.testing.assert_close(stream.latest(72)[60:68], expected[60:68], atol=1e-4, rtol=1e-4)


def test_capacity_grows_and_reset_forgets(encoder, audio) -> None:
    stream = encoder.stream(10)
    stream.push(audio[:40 * HOP])
    with pytest.raises(ValueError):
        stream.latest(40)
    stream.ensure_capacity(60)
    kept = stream.latest(10)
    torch.testing.assert_close(stream.latest(60)[-10:], kept)
    stream.reset()
    stream.push(audio[:40 * HOP])
    torch.testing.assert_close(stream.latest(10), kept)


def test_running_sum_norm_matches_the_pooled_definition() -> None:
    x = torch.randn(2, 5, 50) * 3 + 7
    window = 9
    padded = torch.nn.functional.pad(x.double(), (window - 1, 0))
    sums = torch.nn.functional.avg_pool1d(padded, window, stride=1) * window
    sums2 = torch.nn.functional.avg_pool1d(padded ** 2, window, stride=1) * window
    count = torch.clamp(torch.arange(1, 51, dtype=torch.float64), max=window)
    mean = sums / count
    expected = (x.double() - mean) / torch.sqrt(sums2 / count - mean ** 2 + 1e-5)
    torch.testing.assert_close(moving_instance_norm(x, window), expected.float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(moving_instance_norm(x, window, last=7), expected[..., -7:].float(),
                               atol=1e-5, rtol=1e-5)


def test_conversion_stream_output_is_the_same_with_or_without_the_incremental_encoder(tmp_path) -> None:
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    tone = sung_tone(1.2)[: 200 * HOP]
    outputs = []
    for incremental in (True, False):
        stream = ConversionStream(model, singer="alto", lookahead_frames=3)
        assert stream._content_stream is not None
        if not incremental:
            stream._content_stream = None  # the windowed re-encoding every block
        outputs.append(np.concatenate([stream.push(tone[i:i + 8 * HOP]) for i in range(0, len(tone), 8 * HOP)]))
    assert np.abs(outputs[0]).max() > 1e-3
    np.testing.assert_allclose(outputs[0], outputs[1], atol=2e-4)
