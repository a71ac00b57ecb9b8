"""Read a torch pickle checkpoint without running any code it names.

A fairseq checkpoint is a pickled dict whose "model" entry holds the tensors,
but next to it sit objects of fairseq's own classes (an argparse Namespace of
training arguments, omegaconf configs, loggers' meters, optimiser state).
`torch.load(weights_only=True)` refuses the whole file because of those, and
`weights_only=False` would import and call whatever the file names, which
runs arbitrary code from the file.

The middle way here: torch's own loader with an unpickler whose `find_class`
hands out only what rebuilds tensors and plain containers (the globals
torch's weights-only loader trusts, plus OrderedDict and argparse.Namespace,
which only stores attributes). Every other global becomes an inert
`OpaqueObject` that records its name and whatever arguments or state the
pickle gives it, and executes nothing. The tensors and plain values come
through intact; foreign objects are left as data to look at, never run.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import types
from typing import Any

import torch

from core.errors import ModelFileError


class OpaqueObject:
    """Stand-in for an object of a class we refuse to import."""

    def __init__(self, qualified_name: str, args: tuple = ()) -> None:
        self.qualified_name = qualified_name
        self.args = args
        self.state: Any = None
        self.items: list = []

    def __setstate__(self, state: Any) -> None:
        self.state = state

    # pickle's APPEND/SETITEM opcodes may target the stand-in of a list/dict subclass.
    def append(self, value: Any) -> None:
        self.items.append(value)

    def extend(self, values: Any) -> None:
        self.items.extend(values)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))

    def __repr__(self) -> str:
        return f"<opaque {self.qualified_name}>"


def _opaque_factory(qualified_name: str):
    """A callable the pickle can 'construct' (REDUCE/NEWOBJ) without running foreign code."""

    class Opaque(OpaqueObject):
        def __new__(cls, *args: Any, **kwargs: Any) -> "Opaque":
            instance = object.__new__(cls)
            OpaqueObject.__init__(instance, qualified_name, args)
            return instance

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

    Opaque.__name__ = Opaque.__qualname__ = "Opaque_" + qualified_name.replace(".", "_")
    return Opaque


def _trusted_globals() -> dict[str, Any]:
    trusted: dict[str, Any] = {}
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        trusted.update(_get_allowed_globals())
    except (ImportError, AttributeError):  # private API; fall back to the essentials
        import torch._utils

        for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"):
            if hasattr(torch._utils, name):
                trusted[f"torch._utils.{name}"] = getattr(torch._utils, name)
    trusted["collections.OrderedDict"] = collections.OrderedDict
    trusted["argparse.Namespace"] = argparse.Namespace
    return trusted


def _restricted_pickle_module() -> types.ModuleType:
    trusted = _trusted_globals()

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            qualified = f"{module}.{name}"
            if qualified in trusted:
                return trusted[qualified]
            return _opaque_factory(qualified)

    def load(file: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()

    module = types.ModuleType("comosvc_restricted_pickle")
    module.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
    module.load = load  # type: ignore[attr-defined]
    module.__name__ = "comosvc_restricted_pickle"
    return module


def load_checkpoint_restricted(path: str | os.PathLike) -> Any:
    """Unpickle a torch checkpoint; tensors and plain containers only, foreign objects inert."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
    except FileNotFoundError:
        raise ModelFileError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # garbage input can fail anywhere inside pickle; it is the user's file, not our bug
        raise ModelFileError(f"{path} is not a readable torch checkpoint: {exc}") from None


def load_checkpoint_weights_only(path: str | os.PathLike) -> Any:
    """torch.load with weights_only=True (for files with nothing but tensors and containers)."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # as above: any failure while reading untrusted bytes is a bad file
        raise ModelFileError(f"{path} is not a readable torch checkpoint: {exc}") from None
