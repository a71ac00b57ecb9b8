"""HuBERT / ContentVec import: random small checkpoints in both published formats.

The test writes the SAME random weights once with Hugging Face key names
(config.json + model.safetensors or pytorch_model.bin) and once as a fairseq
ContentVec .pt (with ContentVec's training-only extras), imports both, and
compares against a reference forward pass written here from the HF key names
with plain functional ops.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from cli.main import main as cli_main
from core.config import load_config
from core.errors import ModelFileError, UserError
from core.features.content import align_frames, load_content_encoder
from core.features.content_import import convert, import_checkpoint, parse_conv_layers, read_source

HIDDEN, HEADS, FFN, LAYERS, CONV, POS_K, POS_G = 64, 4, 128, 3, 32, 16, 4
KERNELS, STRIDES = (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)
AUDIO = load_config("paper").audio


def hf_state(seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    def norm(prefix: str, dim: int) -> dict[str, torch.Tensor]:
        return {f"{prefix}.weight": 1 + rnd(dim, scale=0.1), f"{prefix}.bias": rnd(dim, scale=0.1)}

    s: dict[str, torch.Tensor] = {}
    in_ch = 1
    for i, k in enumerate(KERNELS):
        s[f"feature_extractor.conv_layers.{i}.conv.weight"] = rnd(CONV, in_ch, k, scale=1.0 / (in_ch * k) ** 0.5)
        in_ch = CONV
    s.update(norm("feature_extractor.conv_layers.0.layer_norm", CONV))
    s.update(norm("feature_projection.layer_norm", CONV))
    s["feature_projection.projection.weight"] = rnd(HIDDEN, CONV)
    s["feature_projection.projection.bias"] = rnd(HIDDEN)
    s["encoder.pos_conv_embed.conv.weight_g"] = 1 + rnd(1, 1, POS_K, scale=0.1)
    s["encoder.pos_conv_embed.conv.weight_v"] = rnd(HIDDEN, HIDDEN // POS_G, POS_K)
    s["encoder.pos_conv_embed.conv.bias"] = rnd(HIDDEN)
    s.update(norm("encoder.layer_norm", HIDDEN))
    s["masked_spec_embed"] = rnd(HIDDEN)
    for n in range(LAYERS):
        p = f"encoder.layers.{n}"
        for proj in ("q", "k", "v", "out"):
            s[f"{p}.attention.{proj}_proj.weight"] = rnd(HIDDEN, HIDDEN)
            s[f"{p}.attention.{proj}_proj.bias"] = rnd(HIDDEN)
        s.update(norm(f"{p}.layer_norm", HIDDEN))
        s[f"{p}.feed_forward.intermediate_dense.weight"] = rnd(FFN, HIDDEN)
        s[f"{p}.feed_forward.intermediate_dense.bias"] = rnd(FFN)
        s[f"{p}.feed_forward.output_dense.weight"] = rnd(HIDDEN, FFN)
        s[f"{p}.feed_forward.output_dense.bias"] = rnd(HIDDEN)
        s.update(norm(f"{p}.final_layer_norm", HIDDEN))
    return s


HF_CONFIG = {
    "model_type": "hubert",
    "hidden_size": HIDDEN,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "intermediate_size": FFN,
    "hidden_act": "gelu",
    "conv_dim": [CONV] * 7,
    "conv_kernel": list(KERNELS),
    "conv_stride": list(STRIDES),
    "conv_bias": False,
    "num_conv_pos_embeddings": POS_K,
    "num_conv_pos_embedding_groups": POS_G,
    "feat_extract_norm": "group",
    "do_stable_layer_norm": False,
    "feat_proj_layer_norm": True,
    "layer_norm_eps": 1e-5,
}


def fairseq_state(hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same weights under fairseq's HuBERT/ContentVec names."""
    s: dict[str, torch.Tensor] = OrderedDict()
    for i in range(len(KERNELS)):
        s[f"feature_extractor.conv_layers.{i}.0.weight"] = hf[f"feature_extractor.conv_layers.{i}.conv.weight"]
    for t in ("weight", "bias"):
        s[f"feature_extractor.conv_layers.0.2.{t}"] = hf[f"feature_extractor.conv_layers.0.layer_norm.{t}"]
        s[f"layer_norm.{t}"] = hf[f"feature_projection.layer_norm.{t}"]
        s[f"post_extract_proj.{t}"] = hf[f"feature_projection.projection.{t}"]
        s[f"encoder.layer_norm.{t}"] = hf[f"encoder.layer_norm.{t}"]
        for n in range(LAYERS):
            a, b = f"encoder.layers.{n}", f"encoder.layers.{n}"
            for proj in ("q", "k", "v", "out"):
                s[f"{a}.self_attn.{proj}_proj.{t}"] = hf[f"{b}.attention.{proj}_proj.{t}"]
            s[f"{a}.self_attn_layer_norm.{t}"] = hf[f"{b}.layer_norm.{t}"]
            s[f"{a}.fc1.{t}"] = hf[f"{b}.feed_forward.intermediate_dense.{t}"]
            s[f"{a}.fc2.{t}"] = hf[f"{b}.feed_forward.output_dense.{t}"]
            s[f"{a}.final_layer_norm.{t}"] = hf[f"{b}.final_layer_norm.{t}"]
    s["encoder.pos_conv.0.weight_g"] = hf["encoder.pos_conv_embed.conv.weight_g"]
    s["encoder.pos_conv.0.weight_v"] = hf["encoder.pos_conv_embed.conv.weight_v"]
    s["encoder.pos_conv.0.bias"] = hf["encoder.pos_conv_embed.conv.bias"]
    # ContentVec's training-only parts: mask embedding, projections, label embeddings,
    # one speaker-conditioned layer with conditional layer norms.
    s["mask_emb"] = torch.zeros(HIDDEN)
    s["final_proj.weight"] = torch.zeros(16, HIDDEN)
    s["final_proj.bias"] = torch.zeros(16)
    s["layer_proj.weight"] = torch.zeros(16, HIDDEN)
    s["layer_proj.bias"] = torch.zeros(16)
    s["label_embs_concat"] = torch.zeros(504, 16)
    c = f"encoder.layers.{LAYERS}"
    for proj in ("q", "k", "v", "out"):
        s[f"{c}.self_attn.{proj}_proj.weight"] = torch.zeros(HIDDEN, HIDDEN)
        s[f"{c}.self_attn.{proj}_proj.bias"] = torch.zeros(HIDDEN)
    for ln in ("self_attn_layer_norm", "final_layer_norm"):
        s[f"{c}.{ln}.weight_ln.weight"] = torch.zeros(HIDDEN, 256)
        s[f"{c}.{ln}.bias_ln.weight"] = torch.zeros(HIDDEN, 256)
    s[f"{c}.fc1.weight"] = torch.zeros(FFN, HIDDEN)
    s[f"{c}.fc1.bias"] = torch.zeros(FFN)
    s[f"{c}.fc2.weight"] = torch.zeros(HIDDEN, FFN)
    s[f"{c}.fc2.bias"] = torch.zeros(HIDDEN)
    s["encoder.cond_layer_norm.weight_ln.weight"] = torch.zeros(HIDDEN, 256)
    s["encoder.cond_layer_norm.bias_ln.weight"] = torch.zeros(HIDDEN, 256)
    return s


class _ForeignMeter:
    """A class the importer never imports: a stand-in for fairseq's own objects (meters, configs)."""

    def __init__(self) -> None:
        self.sum, self.count = 3.5, 7


class _RunsCodeWhenUnpickled:
    """Pickles as a call to os.mkdir: a stand-in for a checkpoint that would run code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def write_fairseq(path: Path, hf: dict[str, torch.Tensor], marker: Path | None = None) -> None:
    conv_spec = f"[({CONV},10,5)] + [({CONV},3,2)] * 4 + [({CONV},2,2)] * 2"
    checkpoint = {
        "args": None,
        "cfg": {
            "model": {
                "_name": "contentvec",
                "encoder_layers": LAYERS,
                "encoder_layers_1": 1,
                "encoder_embed_dim": HIDDEN,
                "encoder_ffn_embed_dim": FFN,
                "encoder_attention_heads": HEADS,
                "conv_feature_layers": conv_spec,
                "conv_pos": POS_K,
                "conv_pos_groups": POS_G,
                "extractor_mode": "default",
                "layer_norm_first": False,
            },
            "task": {"sample_rate": 16000},
        },
        "model": fairseq_state(hf),
        "extra_state": {"train_meta": argparse.Namespace(epoch=3), "meter": _ForeignMeter()},
    }
    if marker is not None:
        checkpoint["extra_state"]["foreign"] = _RunsCodeWhenUnpickled(str(marker))
    torch.save(checkpoint, path)


def write_hf(folder: Path, hf: dict[str, torch.Tensor], weights: str = "model.safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(HF_CONFIG))
    if weights.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in hf.items()}, str(folder / weights))
    else:
        torch.save(hf, folder / weights)
    return folder


def reference_forward(hf: dict[str, torch.Tensor], audio_16k: torch.Tensor, layer: int) -> torch.Tensor:
    """Independent HuBERT-base forward on HF key names (functional ops only)."""
    x = audio_16k.view(1, 1, -1)
    for i, stride in enumerate(STRIDES):
        x = F.conv1d(x, hf[f"feature_extractor.conv_layers.{i}.conv.weight"], stride=stride)
        if i == 0:
            x = F.group_norm(x, CONV, hf["feature_extractor.conv_layers.0.layer_norm.weight"],
                             hf["feature_extractor.conv_layers.0.layer_norm.bias"])
        x = F.gelu(x)
    x = x.transpose(1, 2)
    x = F.layer_norm(x, (CONV,), hf["feature_projection.layer_norm.weight"], hf["feature_projection.layer_norm.bias"])
    x = F.linear(x, hf["feature_projection.projection.weight"], hf["feature_projection.projection.bias"])
    v, g = hf["encoder.pos_conv_embed.conv.weight_v"], hf["encoder.pos_conv_embed.conv.weight_g"]
    w = torch._weight_norm(v, g, 2)
    pos = F.conv1d(x.transpose(1, 2), w, hf["encoder.pos_conv_embed.conv.bias"], padding=POS_K // 2, groups=POS_G)
    pos = F.gelu(pos[:, :, :-1]).transpose(1, 2)
    x = F.layer_norm(x + pos, (HIDDEN,), hf["encoder.layer_norm.weight"], hf["encoder.layer_norm.bias"])
    d = HIDDEN // HEADS
    for n in range(layer):
        p = f"encoder.layers.{n}."

        def lin(name: str, t: torch.Tensor) -> torch.Tensor:
            return F.linear(t, hf[p + name + ".weight"], hf[p + name + ".bias"])

        q, k, vv = (lin(f"attention.{m}_proj", x).view(1, -1, HEADS, d).transpose(1, 2) for m in "qkv")
        att = torch.softmax(q @ k.transpose(-1, -2) / d**0.5, dim=-1) @ vv
        x = x + lin("attention.out_proj", att.transpose(1, 2).reshape(1, -1, HIDDEN))
        x = F.layer_norm(x, (HIDDEN,), hf[p + "layer_norm.weight"], hf[p + "layer_norm.bias"])
        x = x + lin("feed_forward.output_dense", F.gelu(lin("feed_forward.intermediate_dense", x)))
        x = F.layer_norm(x, (HIDDEN,), hf[p + "final_layer_norm.weight"], hf[p + "final_layer_norm.bias"])
    return x[0]


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    return hf_state()


def _audio(seconds: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 24000)) / 24000
    return 0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn(t.shape, generator=g)


def test_conv_spec_parses_without_eval():
    assert parse_conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2") == (
        [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    )
    with pytest.raises(ModelFileError):
        parse_conv_layers("__import__('os').system('true')")


def test_hf_import_matches_reference(tmp_path, weights):
    out = tmp_path / "cv.safetensors"
    imported = import_checkpoint(write_hf(tmp_path / "hf", weights), out, output_layer=2)
    assert imported.shape.layers == 2 and imported.dropped_layers == 1
    assert imported.ignored == ["masked_spec_embed"]
    encoder = load_content_encoder(out, AUDIO)
    assert encoder.dim == HIDDEN
    audio_16k = torch.randn(16000 * 3 // 4, generator=torch.Generator().manual_seed(3)) * 0.3
    ours = encoder.network(audio_16k.unsqueeze(0))[0]
    ref = reference_forward(weights, audio_16k, layer=2)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_fairseq_and_hf_imports_agree(tmp_path, weights):
    write_fairseq(tmp_path / "contentvec.pt", weights)   # foreign objects inside load as inert stand-ins
    fs = import_checkpoint(tmp_path / "contentvec.pt", tmp_path / "fs.safetensors")
    hf = import_checkpoint(write_hf(tmp_path / "hf", weights, "pytorch_model.bin"), tmp_path / "hf.safetensors")
    assert fs.shape == hf.shape and fs.shape.layers == LAYERS and fs.shape.heads == HEADS
    assert any("cond_layer_norm" in k for k in fs.ignored) and "label_embs_concat" in fs.ignored
    audio = _audio(0.9)
    n = audio.numel() // 128
    a = load_content_encoder(tmp_path / "fs.safetensors", AUDIO).encode(audio, n)
    b = load_content_encoder(tmp_path / "hf.safetensors", AUDIO).encode(audio, n)
    assert torch.equal(a, b)


@pytest.mark.parametrize("seconds", [0.01, 0.37, 1.0, 2.13])
def test_output_frames_follow_mel_rate(tmp_path_factory, weights, seconds):
    folder = tmp_path_factory.mktemp("enc")
    import_checkpoint(write_hf(folder / "hf", weights), folder / "e.safetensors", output_layer=1)
    encoder = load_content_encoder(folder / "e.safetensors", AUDIO)
    audio = _audio(seconds)
    n = audio.numel() // AUDIO.hop_length
    codes = encoder.encode(audio, n)
    assert codes.shape == (n, HIDDEN) and torch.isfinite(codes).all()


def test_align_frames_is_time_nearest():
    src = torch.arange(10, dtype=torch.float32).unsqueeze(1)  # 20 ms frames, value = index
    out = align_frames(src, 40, 0.02, 128 / 24000)
    centres = (torch.arange(40) + 0.5) * 128 / 24000
    expected = torch.clamp(torch.floor(centres / 0.02), max=9)
    assert torch.equal(out[:, 0], expected)


def test_unmapped_key_is_an_error(tmp_path, weights):
    broken = dict(weights)
    broken["encoder.layers.0.attention.rotary.weight"] = torch.zeros(3)
    with pytest.raises(ModelFileError, match="rotary"):
        convert(read_source(write_hf(tmp_path / "hf", broken)))


def test_missing_key_is_an_error(tmp_path, weights):
    broken = dict(weights)
    del broken["encoder.layers.1.feed_forward.intermediate_dense.bias"]
    with pytest.raises(ModelFileError, match="missing"):
        convert(read_source(write_hf(tmp_path / "hf", broken)))


def test_layer_out_of_range(tmp_path, weights):
    with pytest.raises(UserError, match="out of range"):
        convert(read_source(write_hf(tmp_path / "hf", weights)), output_layer=LAYERS + 1)


def test_cli_import(tmp_path, weights, capsys):
    write_fairseq(tmp_path / "cv.pt", weights)
    out = tmp_path / "cv.safetensors"
    assert cli_main(["import-content", str(tmp_path / "cv.pt"), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "fairseq" and report["output_layer"] == LAYERS and out.is_file()
    assert cli_main(["import-content", str(tmp_path / "nothing.pt"), "--out", str(tmp_path / "x.safetensors")]) != 0
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_long_input_runs_in_segments(tmp_path, weights, monkeypatch):
    import core.features.content_hubert as module

    import_checkpoint(write_hf(tmp_path / "hf", weights), tmp_path / "e.safetensors", output_layer=1)
    encoder = load_content_encoder(tmp_path / "e.safetensors", AUDIO)
    monkeypatch.setattr(module, "SEGMENT_FRAMES", 20)
    monkeypatch.setattr(module, "CONTEXT_FRAMES", 5)
    audio = _audio(2.13)
    n = audio.numel() // 128
    codes = encoder.encode(audio, n)
    assert codes.shape == (n, HIDDEN) and torch.isfinite(codes).all()
    # each segment keeps the middle of the network's output on its own chunk (+5 frames of context)
    padded = torch.randn(107 * 320 + 80, generator=torch.Generator().manual_seed(4)) * 0.3
    segmented = encoder._run_in_segments(padded, 107)
    first_chunk = encoder.network(padded[: 24 * 320 + 400].unsqueeze(0))[0]
    second_chunk = encoder.network(padded[15 * 320 : 44 * 320 + 400].unsqueeze(0))[0]
    assert segmented.shape == (107, HIDDEN)
    torch.testing.assert_close(segmented[:20], first_chunk[:20])
    torch.testing.assert_close(segmented[20:40], second_chunk[5:25])


def test_parametrized_weight_norm_keys_and_config_factory(tmp_path, weights):
    from core.features.content import content_encoder_for

    renamed = {
        k.replace("conv.weight_g", "conv.parametrizations.weight.original0").replace(
            "conv.weight_v", "conv.parametrizations.weight.original1"
        ): v
        for k, v in weights.items()
    }
    out = tmp_path / "p.safetensors"
    import_checkpoint(write_hf(tmp_path / "hf", renamed), out)
    cfg = load_config("paper")
    with pytest.raises(UserError, match="import-content"):
        content_encoder_for(cfg)
    with pytest.raises(UserError, match="expects 768"):
        content_encoder_for(cfg, out)
    assert content_encoder_for(cfg.replace({"features.content_dim": HIDDEN}), out).dim == HIDDEN


def test_fairseq_config_inside_pickled_omegaconf_objects_is_read(tmp_path, weights):
    """fairseq may pickle its config as omegaconf objects: read their values without importing omegaconf."""
    from core.features.content_import import _unwrap_omegaconf
    from core.features.content_pickle import OpaqueObject

    def node(value):
        leaf = OpaqueObject("omegaconf.nodes.AnyNode")
        leaf.state = {"_val": value, "_metadata": None}
        return leaf

    model = OpaqueObject("omegaconf.dictconfig.DictConfig")
    model.state = {"_content": {"encoder_attention_heads": node(HEADS), "layer_norm_first": node(False)}}
    root = OpaqueObject("omegaconf.dictconfig.DictConfig")
    root.state = {"_content": {"model": model}}
    assert _unwrap_omegaconf(root) == {"model": {"encoder_attention_heads": HEADS, "layer_norm_first": False}}


def test_fairseq_without_config_assumes_base_layout(tmp_path, weights):
    torch.save({"model": fairseq_state(weights), "args": None}, tmp_path / "bare.pt")
    imported = convert(read_source(tmp_path / "bare.pt"))
    assert imported.shape.heads == HIDDEN // 64 and imported.shape.hop == 320
    assert any("assumed" in note for note in imported.notes)
