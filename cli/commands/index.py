"""`comosvc index MODEL CACHE [--out NEW]`: give a model its feature-retrieval index.

The index (core.features.retrieval) holds k-means centroids of each singer's content codes,
computed with the model's own content encoder from the training cache that
`comosvc preprocess` wrote. Models trained with `comosvc train all` already have one; this
adds one to an older model or rebuilds it.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from core.features.retrieval_settings import CODES_PER_SINGER

    parser = subparsers.add_parser(
        "index",
        help="add a feature-retrieval index to a model file (for --retrieval)",
        description="Build the feature-retrieval index of MODEL from CACHE (the preprocess cache of its "
                    "training data: every singer of the model must have clips there) and write it into MODEL, "
                    "or into a copy with --out. Conversion then accepts --retrieval R: each frame's content is "
                    "blended a share R toward its nearest codes of the target singer.",
    )
    parser.add_argument("model", help="complete model file (or a name in the model folders)")
    parser.add_argument("cache", help="the training data's preprocess cache (comosvc preprocess DATA CACHE)")
    parser.add_argument("--out", default=None, help="model file to write (default: MODEL itself)")
    parser.add_argument("--codes", type=int, default=CODES_PER_SINGER,
                        help=f"centroids kept per singer (default {CODES_PER_SINGER})")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists (default: refuse)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cli.output_file import check_output_file
    from core.models import resolve_model
    from core.train.retrieval_index import add_index

    model = resolve_model(args.model)
    # Without --out the index goes into MODEL itself, which of course exists.
    out = check_output_file(args.out, args.force) if args.out else Path(model)
    index = add_index(model, args.cache, out, count=args.codes)
    sizes = sorted({len(t) for t in index.tables})
    print(f"{out}: retrieval index of {index.n_singers} singers, {'/'.join(map(str, sizes))} codes each")
    return 0
