"""The `comosvc` command: only parses arguments and dispatches.

Each subcommand lives in its own module in `cli/commands/` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a handler
taking the parsed arguments and returning an exit code. New modules are
picked up without touching this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from core.errors import UserError
import cli.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comosvc",
        description="CoMoSVC Live: real-time singing voice conversion with a one-step consistency model.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"cli.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"comosvc {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
