"""`comosvc import-content`: convert a HuBERT / ContentVec checkpoint once, to safetensors.

A fairseq .pt is a Python pickle; reading one can run code. This command is
the one place such a file is read, with an unpickler that builds only tensors
and plain containers (see core/features/content_pickle.py). Afterwards the
encoder is loaded from the safetensors file only.
"""

from __future__ import annotations

import argparse

from cli.output import add_json_flag, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-content",
        help="convert a HuBERT/ContentVec checkpoint (Hugging Face folder or fairseq .pt) to a content-encoder file",
        description=(
            "Convert a HuBERT-base or ContentVec checkpoint you already have, once, into a safetensors "
            "content-encoder file. FILE is a Hugging Face folder (config.json + model.safetensors or "
            "pytorch_model.bin) or a fairseq .pt (e.g. ContentVec's checkpoint_best_legacy_500.pt). "
            "Pickled .pt/.bin files are read with a restricted unpickler that builds tensors and plain "
            "containers only and never runs code named in the file. Every key must map onto the network; "
            "training-only parts (final_proj, label embeddings, ContentVec's speaker-conditioned layers) "
            "are dropped, as are the layers after the output layer."
        ),
    )
    parser.add_argument("file", help="Hugging Face folder/file or fairseq .pt checkpoint")
    parser.add_argument("--out", required=True, help="output .safetensors content-encoder file")
    parser.add_argument(
        "--format", choices=("auto", "huggingface", "fairseq"), default="auto", help="source format (default: by name)"
    )
    parser.add_argument(
        "--layer", type=int, default=None, help="transformer layer whose output is the content code (default 12)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.features.content_import import import_checkpoint

    imported = import_checkpoint(args.file, args.out, fmt=args.format, output_layer=args.layer)
    shape = imported.shape
    report = {
        "out": str(args.out),
        "format": imported.source_format,
        "output_layer": shape.layers,
        "dim": shape.hidden,
        "heads": shape.heads,
        "hop_16k": shape.hop,
        "parameters": imported.parameters,
        "ignored_keys": len(imported.ignored),
        "dropped_layers": imported.dropped_layers,
        "notes": imported.notes,
    }
    if args.json:
        print_json(report)
    else:
        print(
            f"imported {imported.source_format} checkpoint -> {args.out}: layer {shape.layers} output, "
            f"{shape.hidden}-d, {imported.parameters / 1e6:.1f} M parameters; "
            f"ignored {len(imported.ignored)} training-only keys, dropped {imported.dropped_layers} later layers"
        )
        for note in imported.notes:
            print(f"note: {note}")
    return 0
