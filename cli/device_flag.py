"""`--device` for every command that runs a model: one flag, one parser (core.device)."""

from __future__ import annotations

import argparse


def add_device_flag(parser: argparse.ArgumentParser, default: str | None = "", unset_means: str = "") -> None:
    """Add `--device NAME`; resolve it with core.device.resolve_device.

    default "": core.device.DEFAULT_DEVICE. default None: args.device is None when the flag is not
    given, and the help says what happens then (`unset_means`).
    """
    from core.device import DEFAULT_DEVICE, DEVICE_HELP

    if default == "":
        default = DEFAULT_DEVICE
    parser.add_argument("--device", default=default, metavar="NAME",
                        help=f"torch device for the models: {DEVICE_HELP} (default {default or unset_means})")


def device_or_exit(parser: argparse.ArgumentParser, name: str):
    """The torch.device for `name`, or argparse's one-line error and exit 2 (for the bench scripts)."""
    from core.device import resolve_device
    from core.errors import UserError

    try:
        return resolve_device(name)
    except UserError as exc:
        parser.error(str(exc))
