"""Built-in content encoder: shapes, streaming equivalence, file round trip, gradient reversal."""

from __future__ import annotations

import torch

from core.audio.mel import MelSpectrogram
from core.config import load_config
from core.features.content import ContentEncoder, load_content_encoder, save_content_encoder
from core.features.content_builtin import (
    BuiltinContentEncoder,
    SpeakerAdversary,
    moving_instance_norm,
    reverse_gradient,
)

CFG = load_config("tiny")


def _audio(seconds: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * CFG.audio.sample_rate)) / CFG.audio.sample_rate
    return 0.3 * torch.sin(2 * torch.pi * 200 * t * (1 + 0.1 * t)) + 0.02 * torch.randn(t.shape, generator=g)


def test_encode_gives_requested_frames_and_width():
    encoder = BuiltinContentEncoder.from_config(CFG).eval()
    assert isinstance(encoder, ContentEncoder)
    assert encoder.dim == CFG.features.content_dim
    for seconds in (0.0, 0.05, 0.5, 1.3):
        audio = _audio(seconds)
        n = audio.numel() // CFG.audio.hop_length
        codes = encoder.encode(audio, n)
        assert codes.shape == (n, CFG.features.content_dim) and torch.isfinite(codes).all()
    assert encoder.encode(_audio(0.5), 100).shape[0] == 100  # longer than the audio: edge repeated


def test_window_with_enough_context_matches_offline():
    """A window holding the receptive field's past and lookahead reproduces the offline codes."""
    encoder = BuiltinContentEncoder.from_config(CFG).eval()
    past, future = encoder.receptive_field
    assert future == CFG.features.content_lookahead
    mel = MelSpectrogram(CFG.audio)(_audio(2.0)).unsqueeze(0)
    with torch.no_grad():
        offline = encoder.forward_mel(mel)
        start, stop = past + 20, past + 60
        window = encoder.forward_mel(mel[:, :, start - past : stop + future])
    torch.testing.assert_close(window[:, past : past + (stop - start)], offline[:, start:stop], atol=1e-4, rtol=1e-4)
    # and the receptive field is not overstated by much: too little past context changes the result
    with torch.no_grad():
        short = encoder.forward_mel(mel[:, :, start - past // 2 : stop + future])
    assert not torch.allclose(short[:, past // 2 : past // 2 + (stop - start)], offline[:, start:stop], atol=1e-4)


def test_future_beyond_lookahead_has_no_effect():
    encoder = BuiltinContentEncoder.from_config(CFG).eval()
    mel = MelSpectrogram(CFG.audio)(_audio(1.0)).unsqueeze(0)
    changed = mel.clone()
    t = 100
    changed[:, :, t + CFG.features.content_lookahead + 1 :] += 1.0
    with torch.no_grad():
        a, b = encoder.forward_mel(mel), encoder.forward_mel(changed)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + CFG.features.content_lookahead + 1 :], b[:, t + CFG.features.content_lookahead + 1 :])


def test_moving_norm_removes_a_constant_channel_offset():
    x = torch.randn(1, 4, 200)
    shifted = x + torch.tensor([3.0, -2.0, 0.5, 10.0]).view(1, 4, 1)
    torch.testing.assert_close(moving_instance_norm(x, 32), moving_instance_norm(shifted, 32), atol=1e-3, rtol=1e-3)
    out = moving_instance_norm(x, 200)[..., -1]
    full = (x[..., -1] - x.mean(-1)) / torch.sqrt(x.var(-1, unbiased=False) + 1e-5)
    torch.testing.assert_close(out, full, atol=1e-4, rtol=1e-4)


def test_file_round_trip(tmp_path):
    encoder = BuiltinContentEncoder.from_config(CFG).eval()
    state, meta = encoder.file_parts()
    save_content_encoder(tmp_path / "enc.safetensors", state, meta)
    loaded = load_content_encoder(tmp_path / "enc.safetensors", CFG.audio)
    audio = _audio(0.7)
    n = audio.numel() // CFG.audio.hop_length
    assert torch.equal(loaded.encode(audio, n), encoder.encode(audio, n))


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(5, requires_grad=True)
    (reverse_gradient(x, 0.5) * torch.arange(5.0)).sum().backward()
    torch.testing.assert_close(x.grad, -0.5 * torch.arange(5.0))
    head = SpeakerAdversary(CFG.features.content_dim, n_speakers=3)
    codes = torch.randn(2, 7, CFG.features.content_dim, requires_grad=True)
    assert head(codes).shape == (2, 7, 3) and head.clip_logits(codes).shape == (2, 3)


def test_codes_can_feed_a_model_being_trained():
    encoder = BuiltinContentEncoder.from_config(CFG).eval()
    codes = encoder.encode(_audio(0.3), 20)
    layer = torch.nn.Linear(CFG.features.content_dim, 1)
    layer(codes).sum().backward()  # fails on inference-mode tensors
    assert layer.weight.grad is not None and not codes.requires_grad
