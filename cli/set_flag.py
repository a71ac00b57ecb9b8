"""`--set KEY=VALUE`: config overrides for the commands that build from a config (train, preprocess)."""

from __future__ import annotations

import argparse

SET_HELP = "override a config value, e.g. --set model.residual_layers=4 (repeatable; default none)"


def add_set_flag(parser: argparse.ArgumentParser, help_text: str = SET_HELP) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help_text)


def config_overrides(items: list[str]) -> dict:
    """{dotted key: YAML-parsed value} from the --set items."""
    import yaml

    from core.errors import UserError

    overrides = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set needs KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides
