"""`comosvc import-vocoder FILE`: convert a published NSF-HiFiGAN checkpoint once, to safetensors.

The checkpoint is a pickle: it is read here only, with torch.load(weights_only=True)
or, for files that also hold training objects, an unpickler that builds only
tensors and plain containers. Afterwards the vocoder loads from safetensors.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from cli.output import add_json_flag

    parser = subparsers.add_parser(
        "import-vocoder",
        help="convert an NSF-HiFiGAN checkpoint (openvpi 44.1 kHz or M4Singer 24 kHz) to a vocoder file",
        description=(
            "Convert an NSF-HiFiGAN checkpoint you already have into a safetensors vocoder file. "
            "openvpi/so-vits-svc layout: model.ckpt holding {'generator': ...} with config.json beside it. "
            "M4Singer/DiffSinger layout (the paper's vocoder): model_ckpt_steps_N.ckpt holding "
            "{'state_dict': {'model_gen': ...}} with config.yaml beside it. Weight norm is folded."
        ),
    )
    parser.add_argument("file", help="checkpoint (.ckpt/.pt/.pth)")
    parser.add_argument("--config", default=None, help="config.json/config.yaml (default: the one beside FILE)")
    parser.add_argument("--out", default=None,
                        help="output file (default, in your model folder: vocoder_nsf_hifigan_m4singer.safetensors "
                             "or vocoder_nsf_hifigan_openvpi_44k.safetensors, by the checkpoint's layout)")
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cli.output import print_json
    from core.errors import UserError
    from core.models import model_dirs
    from core.vocoder.files import save_vocoder
    from core.vocoder.nsf_import import import_nsf_hifigan
    from core.vocoder.registry import NSF_FILES

    def refuse_to_replace(out: Path) -> None:
        if out.exists() and not args.force:
            raise UserError(f"{out} already exists; pass --force to replace it")

    if args.out:   # known before the import: fail before reading the checkpoint
        refuse_to_replace(Path(args.out))
    vocoder = import_nsf_hifigan(args.file, args.config)
    user_dir = [d for d in model_dirs() if ".local" in d.parts] or model_dirs()[:1]
    out = Path(args.out) if args.out else user_dir[0] / NSF_FILES[vocoder.generator.shape.layout]
    refuse_to_replace(out)
    save_vocoder(out, vocoder, {"source": Path(args.file).name})
    shape = vocoder.generator.shape
    report = {"out": str(out), "layout": shape.layout, "sample_rate": shape.sampling_rate, "hop": shape.hop_size,
              "n_mels": shape.num_mels, "parameters": sum(p.numel() for p in vocoder.generator.parameters())}
    if args.json:
        print_json(report)
    else:
        print(f"imported {shape.layout} NSF-HiFiGAN ({shape.sampling_rate} Hz, hop {shape.hop_size}, "
              f"{shape.num_mels} mels, {report['parameters']:,} parameters) -> {out}")
    return 0
