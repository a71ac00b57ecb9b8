"""One-time conversion of a published HuBERT / ContentVec checkpoint to our model file.

Two source formats:

- Hugging Face (transformers' `HubertModel`): a folder with `config.json` and
  `model.safetensors` or `pytorch_model.bin` (or one of those files with its
  `config.json` beside it). Keys like `feature_extractor.conv_layers.0.conv.weight`,
  `encoder.layers.3.attention.q_proj.weight`; an optional `hubert.` prefix
  (task heads) and ContentVec's `final_proj` are ignored.
- fairseq (HuBERT / ContentVec `.pt`): a pickled dict with the state dict
  under "model" and the training config under "cfg" (or "args"). Keys like
  `feature_extractor.conv_layers.0.0.weight`, `encoder.layers.3.self_attn.q_proj.weight`.
  ContentVec's training-only parts (final_proj, label_embs_concat, layer_proj,
  the speaker-conditioned layers after layer 12 and their conditional layer
  norms) are ignored.

Every other key must map onto our network (`content_hubert.HubertNetwork`),
and every parameter of the network must be filled: anything else is an error,
so a half-matching checkpoint never loads silently. The positional conv's
weight norm (g, v) is folded into one weight. Layers after the output layer
are dropped (they are never computed).
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.errors import ModelFileError, UserError
from core.features.content import save_content_encoder
from core.features.content_hubert import HubertNetwork, HubertShape
from core.features.content_pickle import OpaqueObject, load_checkpoint_restricted, load_checkpoint_weights_only

HUBERT_SAMPLE_RATE = 16000
DEFAULT_OUTPUT_LAYER = 12  # DESIGN: ContentVec layer 12
# HuBERT's conv strides; used only when a fairseq checkpoint's config cannot be read.
HUBERT_CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)

_WB = r"(weight|bias)"

# (pattern, replacement); replacement None means "known, not needed: ignore".
HF_RULES: list[tuple[str, str | None]] = [
    (rf"feature_extractor\.conv_layers\.(\d+)\.conv\.{_WB}", r"conv_layers.\1.\2"),
    (rf"feature_extractor\.conv_layers\.0\.layer_norm\.{_WB}", r"first_norm.\1"),
    (rf"feature_projection\.layer_norm\.{_WB}", r"feature_norm.\1"),
    (rf"feature_projection\.projection\.{_WB}", r"projection.\1"),
    (r"encoder\.pos_conv_embed\.conv\.weight_g", "pos_conv.weight_g"),
    (r"encoder\.pos_conv_embed\.conv\.weight_v", "pos_conv.weight_v"),
    (r"encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0", "pos_conv.weight_g"),
    (r"encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1", "pos_conv.weight_v"),
    (r"encoder\.pos_conv_embed\.conv\.bias", "pos_conv.bias"),
    (rf"encoder\.layer_norm\.{_WB}", r"encoder_norm.\1"),
    (rf"encoder\.layers\.(\d+)\.attention\.(q|k|v|out)_proj\.{_WB}", r"layers.\1.attention.\2_proj.\3"),
    (rf"encoder\.layers\.(\d+)\.layer_norm\.{_WB}", r"layers.\1.attention_norm.\2"),
    (rf"encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.{_WB}", r"layers.\1.ffn_in.\2"),
    (rf"encoder\.layers\.(\d+)\.feed_forward\.output_dense\.{_WB}", r"layers.\1.ffn_out.\2"),
    (rf"encoder\.layers\.(\d+)\.final_layer_norm\.{_WB}", r"layers.\1.final_norm.\2"),
    (r"masked_spec_embed", None),
    (r"final_proj\..*", None),
    (r"label_embs_concat", None),
]

FAIRSEQ_RULES: list[tuple[str, str | None]] = [
    (rf"feature_extractor\.conv_layers\.(\d+)\.0\.{_WB}", r"conv_layers.\1.\2"),
    (rf"feature_extractor\.conv_layers\.0\.2\.{_WB}", r"first_norm.\1"),
    (rf"layer_norm\.{_WB}", r"feature_norm.\1"),
    (rf"post_extract_proj\.{_WB}", r"projection.\1"),
    (r"encoder\.pos_conv\.0\.weight_g", "pos_conv.weight_g"),
    (r"encoder\.pos_conv\.0\.weight_v", "pos_conv.weight_v"),
    (r"encoder\.pos_conv\.0\.parametrizations\.weight\.original0", "pos_conv.weight_g"),
    (r"encoder\.pos_conv\.0\.parametrizations\.weight\.original1", "pos_conv.weight_v"),
    (r"encoder\.pos_conv\.0\.bias", "pos_conv.bias"),
    (rf"encoder\.layer_norm\.{_WB}", r"encoder_norm.\1"),
    (rf"encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.{_WB}", r"layers.\1.attention.\2_proj.\3"),
    (rf"encoder\.layers\.(\d+)\.self_attn_layer_norm\.{_WB}", r"layers.\1.attention_norm.\2"),
    (rf"encoder\.layers\.(\d+)\.fc1\.{_WB}", r"layers.\1.ffn_in.\2"),
    (rf"encoder\.layers\.(\d+)\.fc2\.{_WB}", r"layers.\1.ffn_out.\2"),
    (rf"encoder\.layers\.(\d+)\.final_layer_norm\.{_WB}", r"layers.\1.final_norm.\2"),
    (r"mask_emb", None),
    (r"final_proj\..*", None),
    (r"layer_proj\..*", None),
    (r"label_embs_concat", None),
    (r"encoder\.cond_layer_norm\..*", None),
]

# ContentVec's speaker-conditioned layers have conditional layer norms (weight_ln/bias_ln).
_CONDITIONED_LAYER = re.compile(r"encoder\.layers\.(\d+)\.(?:self_attn_layer_norm|final_layer_norm)\.(?:weight_ln|bias_ln)\.")


@dataclass
class SourceCheckpoint:
    format: str  # "huggingface" | "fairseq"
    state: dict[str, torch.Tensor]
    config: dict[str, Any]
    path: Path
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportedEncoder:
    shape: HubertShape
    state: dict[str, torch.Tensor]  # our parameter names
    source_format: str
    ignored: list[str] = field(default_factory=list)
    dropped_layers: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(t.numel() for t in self.state.values())


# ---------------------------------------------------------------- reading


def detect_format(path: Path) -> str:
    if path.is_dir() or path.suffix == ".safetensors" or path.name == "pytorch_model.bin":
        return "huggingface"
    if path.suffix in (".pt", ".pth", ".ckpt"):
        return "fairseq"
    raise UserError(
        f"cannot tell the format of {path}: give a Hugging Face folder (config.json + model.safetensors "
        "or pytorch_model.bin) or a fairseq .pt checkpoint, or pass --format"
    )


def read_source(path: str | os.PathLike, fmt: str = "auto") -> SourceCheckpoint:
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"checkpoint not found: {path}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "huggingface":
        return _read_huggingface(path)
    if fmt == "fairseq":
        return _read_fairseq(path)
    raise UserError(f"unknown checkpoint format '{fmt}' (huggingface, fairseq or auto)")


def _read_huggingface(path: Path) -> SourceCheckpoint:
    folder = path if path.is_dir() else path.parent
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelFileError(f"Hugging Face checkpoint needs {config_path} next to the weights")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{config_path} is not valid JSON: {exc}") from None
    if path.is_dir():
        candidates = [folder / "model.safetensors", folder / "pytorch_model.bin"]
        weights = next((c for c in candidates if c.is_file()), None)
        if weights is None:
            raise ModelFileError(f"{folder} holds neither model.safetensors nor pytorch_model.bin")
    else:
        weights = path
    if weights.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(weights))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(f"{weights} is truncated or corrupt: {exc}") from None
    else:
        state = load_checkpoint_weights_only(weights)
    state = _tensor_dict(state, weights)
    # Task models (HubertForCTC, ...) keep the encoder under "hubert.".
    if any(k.startswith("hubert.") for k in state):
        state = {k[len("hubert."):]: v for k, v in state.items() if k.startswith("hubert.")}
    return SourceCheckpoint("huggingface", state, config, weights)


def _read_fairseq(path: Path) -> SourceCheckpoint:
    checkpoint = load_checkpoint_restricted(path)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ModelFileError(f"{path} is not a fairseq checkpoint (no 'model' state dict)")
    return SourceCheckpoint("fairseq", _tensor_dict(checkpoint["model"], path), _fairseq_config(checkpoint), path)


def _tensor_dict(state: Any, where: Path) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict):
        raise ModelFileError(f"{where} does not hold a state dict")
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelFileError(f"{where}: entries that are not tensors: {', '.join(map(str, bad[:5]))}")
    return {str(k): v.float() if v.is_floating_point() else v for k, v in state.items()}


def _unwrap_omegaconf(value: Any) -> Any:
    """Best effort: the plain values inside an (inert) pickled omegaconf DictConfig/ListConfig/ValueNode.

    omegaconf pickles its containers as state dicts holding "_content" (a dict,
    list or further nodes) and its leaves as nodes holding "_val".
    """
    if isinstance(value, OpaqueObject):
        state = value.state if isinstance(value.state, dict) else {}
        if "_content" in state:
            return _unwrap_omegaconf(state["_content"])
        if "_val" in state:
            return _unwrap_omegaconf(state["_val"])
        return value
    if isinstance(value, dict):
        return {k: _unwrap_omegaconf(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_omegaconf(v) for v in value]
    return value


def _fairseq_config(checkpoint: dict) -> dict[str, Any]:
    """The model section of fairseq's config, as a plain dict ({} if unreadable)."""
    cfg = _unwrap_omegaconf(checkpoint.get("cfg"))
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        return dict(cfg["model"])
    args = checkpoint.get("args")
    if args is not None and not isinstance(args, OpaqueObject) and hasattr(args, "__dict__"):
        return dict(vars(args))
    return {}


# ---------------------------------------------------------------- mapping


def rename_keys(
    state: dict[str, torch.Tensor], rules: list[tuple[str, str | None]]
) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """(renamed tensors, ignored source keys, unmatched source keys)."""
    compiled = [(re.compile(pattern + r"\Z"), repl) for pattern, repl in rules]
    renamed: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    unmatched: list[str] = []
    for key, tensor in state.items():
        for pattern, repl in compiled:
            if pattern.match(key):
                if repl is None:
                    ignored.append(key)
                else:
                    renamed[pattern.sub(repl, key)] = tensor
                break
        else:
            unmatched.append(key)
    return renamed, ignored, unmatched


def fold_weight_norm(weight_g: torch.Tensor, weight_v: torch.Tensor) -> torch.Tensor:
    """weight_norm(dim=2): w = g * v / ||v||, the norm taken over all dims but the kernel axis."""
    norm = weight_v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
    return weight_v * (weight_g / norm)


def _conditioned_layers(state: dict[str, torch.Tensor]) -> set[int]:
    return {int(m.group(1)) for k in state if (m := _CONDITIONED_LAYER.match(k))}


def _layer_index(name: str) -> int | None:
    match = re.match(r"layers\.(\d+)\.", name)
    return int(match.group(1)) if match else None


def convert(source: SourceCheckpoint, output_layer: int | None = None) -> ImportedEncoder:
    """Rename, check and trim a source checkpoint into our network's state dict."""
    state = dict(source.state)
    ignored: list[str] = []
    if source.format == "fairseq":
        conditioned = _conditioned_layers(state)
        prefixes = tuple(f"encoder.layers.{n}." for n in conditioned)
        ignored += [k for k in state if k.startswith(prefixes)]
        state = {k: v for k, v in state.items() if not k.startswith(prefixes)}
    rules = HF_RULES if source.format == "huggingface" else FAIRSEQ_RULES
    renamed, skipped, unmatched = rename_keys(state, rules)
    ignored += skipped
    if unmatched:
        raise ModelFileError(
            f"{source.path}: {len(unmatched)} key(s) match no HuBERT/ContentVec parameter, e.g. "
            f"{', '.join(unmatched[:5])} (is this a HuBERT-base style checkpoint in {source.format} format?)"
        )
    if "pos_conv.weight_g" in renamed and "pos_conv.weight_v" in renamed:
        renamed["pos_conv.weight"] = fold_weight_norm(renamed.pop("pos_conv.weight_g"), renamed.pop("pos_conv.weight_v"))

    shape = _infer_shape(renamed, source)
    available = shape.layers
    layer = DEFAULT_OUTPUT_LAYER if output_layer is None else int(output_layer)
    notes: list[str] = list(source.notes)
    if output_layer is None and available < layer:
        notes.append(f"the model has {available} layers; using the last one as the output layer")
        layer = available
    if not 1 <= layer <= available:
        raise UserError(f"output layer {layer} is out of range: the model has {available} transformer layers")
    trimmed = {k: v for k, v in renamed.items() if (i := _layer_index(k)) is None or i < layer}
    shape = HubertShape.from_json({**shape.to_json(), "layers": layer})
    _check_complete(trimmed, shape, source.path)
    return ImportedEncoder(shape, trimmed, source.format, ignored, available - layer, notes)


def _check_complete(state: dict[str, torch.Tensor], shape: HubertShape, where: Path) -> None:
    expected = HubertNetwork(shape).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}")
        raise ModelFileError(f"{where}: checkpoint does not match the HuBERT network: {'; '.join(parts)}")
    wrong = [k for k, t in expected.items() if tuple(state[k].shape) != tuple(t.shape)]
    if wrong:
        k = wrong[0]
        raise ModelFileError(
            f"{where}: tensor {k} has shape {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}"
        )


# ---------------------------------------------------------------- shape


def _infer_shape(state: dict[str, torch.Tensor], source: SourceCheckpoint) -> HubertShape:
    """Sizes from the tensors; heads and strides (not visible in tensors) from the config."""
    cfg = source.config
    source_notes = source.notes
    for needed in ("projection.weight", "pos_conv.weight", "conv_layers.0.weight", "layers.0.ffn_in.weight"):
        if needed not in state:
            raise ModelFileError(f"{source.path}: checkpoint lacks the tensor for {needed}")
    n_convs = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("conv_layers."))
    convs = [state[f"conv_layers.{i}.weight"] for i in range(n_convs) if f"conv_layers.{i}.weight" in state]
    if len(convs) != n_convs:
        raise ModelFileError(f"{source.path}: conv feature extractor layers are not numbered 0..{n_convs - 1}")
    strides = _conv_strides(source, n_convs)
    hidden = state["projection.weight"].shape[0]
    pos = state["pos_conv.weight"]
    n_layers = 1 + max((i for k in state if (i := _layer_index(k)) is not None), default=-1)

    if source.format == "huggingface":
        _expect_hf(cfg, source.path)
        heads = cfg.get("num_attention_heads")
        eps = float(cfg.get("layer_norm_eps", 1e-5))
    else:
        if cfg.get("layer_norm_first"):
            raise UserError(f"{source.path}: pre-LN (HuBERT-large style) checkpoints are not supported; use a base model")
        if cfg.get("extractor_mode", "default") != "default":
            raise UserError(f"{source.path}: extractor mode '{cfg['extractor_mode']}' is not supported (HuBERT-base uses 'default')")
        heads = cfg.get("encoder_attention_heads")
        eps = 1e-5
    if heads is None:
        heads = max(hidden // 64, 1)  # HuBERT's head width is 64 in every published size
        source_notes.append(f"no readable config: assumed {heads} attention heads and HuBERT-base layout (post-LN)")
    declared = cfg.get("hidden_size", cfg.get("encoder_embed_dim"))
    if declared is not None and int(declared) != hidden:
        raise ModelFileError(f"{source.path}: config says width {declared} but the tensors are {hidden} wide")
    return HubertShape(
        conv_layers=tuple((int(w.shape[0]), int(w.shape[2]), int(s)) for w, s in zip(convs, strides)),
        conv_bias="conv_layers.0.bias" in state,
        hidden=int(hidden),
        layers=int(n_layers),
        heads=int(heads),
        ffn=int(state["layers.0.ffn_in.weight"].shape[0]),
        pos_kernel=int(pos.shape[2]),
        pos_groups=int(hidden // pos.shape[1]),
        feature_layer_norm="feature_norm.weight" in state,
        layer_norm_eps=eps,
    )


def _expect_hf(cfg: dict, where: Path) -> None:
    if cfg.get("do_stable_layer_norm"):
        raise UserError(f"{where}: pre-LN (HuBERT-large style) checkpoints are not supported; use a base model")
    if cfg.get("feat_extract_norm", "group") != "group":
        raise UserError(f"{where}: feat_extract_norm '{cfg['feat_extract_norm']}' is not supported (HuBERT-base uses 'group')")
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise UserError(f"{where}: activation '{cfg['hidden_act']}' is not supported (HuBERT uses gelu)")


def _conv_strides(source: SourceCheckpoint, n_convs: int) -> list[int]:
    cfg = source.config
    if source.format == "huggingface" and "conv_stride" in cfg:
        strides = [int(s) for s in cfg["conv_stride"]]
    elif source.format == "fairseq" and "conv_feature_layers" in cfg:
        strides = [int(s) for _, _, s in parse_conv_layers(str(cfg["conv_feature_layers"]))]
    elif n_convs == len(HUBERT_CONV_STRIDES):
        strides = list(HUBERT_CONV_STRIDES)
    else:
        raise ModelFileError(f"{source.path}: the config does not give the conv strides")
    if len(strides) != n_convs:
        raise ModelFileError(f"{source.path}: config lists {len(strides)} conv layers, tensors have {n_convs}")
    return strides


def parse_conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """fairseq's conv_feature_layers, e.g. "[(512,10,5)] + [(512,3,2)] * 4", without eval()."""

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError("unsupported expression")

    try:
        layers = value(ast.parse(spec, mode="eval").body)
        return [(int(d), int(k), int(s)) for d, k, s in layers]
    except (SyntaxError, ValueError, TypeError) as exc:
        raise ModelFileError(f"cannot read conv_feature_layers '{spec}': {exc}") from None


# ---------------------------------------------------------------- writing


def import_checkpoint(
    source_path: str | os.PathLike, out_path: str | os.PathLike, fmt: str = "auto", output_layer: int | None = None
) -> ImportedEncoder:
    """Read, convert and save as a safetensors content-encoder file (tensors under `content.`)."""
    imported = convert(read_source(source_path, fmt), output_layer)
    metadata = {
        "encoder": "hubert",
        "shape": imported.shape.to_json(),
        "sample_rate": HUBERT_SAMPLE_RATE,
        "output_layer": imported.shape.layers,
        "dim": imported.shape.hidden,
        "source": {"format": imported.source_format, "file": Path(source_path).name},
    }
    save_content_encoder(out_path, imported.state, metadata)
    return imported
