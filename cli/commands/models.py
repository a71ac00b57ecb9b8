"""`comosvc models`: the conversion models the app can find, with their singers."""

from __future__ import annotations

import sys

from cli.output import add_json_flag, print_json
from core.models import default_model_path, list_models, model_dirs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the conversion models found and their singers",
        description="List conversion models in the search folders: "
        + ", ".join(str(d) for d in model_dirs())
        + " (prepend folders with $COMOSVC_MODEL_PATH).",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    models, problems = list_models()
    default = default_model_path()
    for line in problems:
        print(f"comosvc models: skipped: {line}", file=sys.stderr)
    if args.json:
        print_json([
            {"path": str(m.path), "name": m.name, "singers": m.singers, "config": m.config_name,
             "default": default is not None and m.path.resolve() == default.resolve()}
            for m in models
        ])
        return 0
    if not models:
        print("no models found in: " + ", ".join(str(d) for d in model_dirs()))
        return 0
    for m in models:
        mark = " (default)" if default is not None and m.path.resolve() == default.resolve() else ""
        print(f"{m.name}{mark}  [{m.config_name}]  {m.path}")
        print("  singers: " + ", ".join(m.singers))
    return 0
