"""Shared helpers for subcommands that report figures (`--json` or text)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and non-finite floats to plain JSON values."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def print_json(obj: Any) -> None:
    json.dump(_plain(obj), sys.stdout)
    sys.stdout.write("\n")


def run_report(evaluate, args, print_text) -> int:
    """A bench script's ending: evaluate(args), then one JSON object (--json) or print_text(result);
    a UserError is one line on stderr and its exit code."""
    from core.errors import UserError

    try:
        result = evaluate(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print_json(result)
    else:
        print_text(result)
    return 0
