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

Before any of that, `check_container` looks at the file's first bytes, so
that an empty file, a text file, random bytes or a truncated zip get one line
saying what the file is instead of pickle's internals; and a pickle that names
a global no checkpoint needs (os.system, builtins.eval, subprocess ...) is
refused outright rather than loaded with an inert stand-in.
"""

from __future__ import annotations

import argparse
import codecs
import collections
import os
import pickle
import types
import zipfile
from pathlib import Path
from typing import Any

import torch

from core.errors import ModelFileError

# Globals that run commands, evaluate code, import modules or touch the process: a
# checkpoint names them only to run code when unpickled.
FORBIDDEN_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "sys", "shutil", "importlib", "runpy", "pty", "socket", "ctypes", "code",
    "codeop", "pickle", "_pickle", "marshal", "webbrowser", "multiprocessing", "signal", "pdb", "bdb", "timeit",
    "platform", "commands", "popen2", "operator", "inspect", "threading", "_thread", "asyncio",
})
FORBIDDEN_BUILTINS = frozenset({
    "eval", "exec", "compile", "__import__", "open", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "input", "breakpoint", "exit", "quit", "help", "execfile", "apply", "reload", "file",
})
# Of `types`, only what builds code; a SimpleNamespace of hyperparameters is harmless.
FORBIDDEN_TYPES = frozenset({"FunctionType", "LambdaType", "CodeType", "MethodType", "ModuleType"})
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = 0x80   # first byte of every pickle of protocol 2 or later (torch.save writes 2)


class _ForbiddenGlobal(Exception):
    def __init__(self, qualified_name: str) -> None:
        super().__init__(qualified_name)
        self.qualified_name = qualified_name


def _is_forbidden(module: str, name: str) -> bool:
    top = module.split(".")[0]
    return (top in FORBIDDEN_MODULES or (module in ("builtins", "__builtin__") and name in FORBIDDEN_BUILTINS)
            or (module == "types" and name in FORBIDDEN_TYPES))


def _shown_name(qualified: str) -> str:
    """os.system rather than posix.system: the name the user would recognise."""
    module, _, name = qualified.rpartition(".")
    return {"posix": "os", "nt": "os", "__builtin__": "builtins"}.get(module, module) + "." + name


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:   # incremental: a character cut at the end of the sample is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t\f" for ch in text)


def check_container(path: str | os.PathLike) -> str:
    """'zip' or 'pickle', or a ModelFileError saying in one line what the file is instead."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a PyTorch checkpoint file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except FileNotFoundError:
        raise ModelFileError(f"checkpoint not found: {path}") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise ModelFileError(f"{path} is empty (0 bytes), not a PyTorch checkpoint")
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise ModelFileError(f"{path} is a truncated or damaged zip file, "
                                 "not a readable PyTorch checkpoint") from None
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise ModelFileError(f"{path} is a zip file but not a PyTorch checkpoint (no data.pkl inside)")
        return "zip"
    if head[0] == PICKLE_PROTO:
        return "pickle"
    if _looks_like_text(head):
        raise ModelFileError(f"{path} is a text file, not a PyTorch checkpoint")
    raise ModelFileError(f"{path} is not a PyTorch checkpoint (not a zip or pickle file)")


def _damage(path: str | os.PathLike, kind: str, exc: BaseException) -> ModelFileError:
    """One line for a checkpoint whose container is right but whose contents fail to load."""
    text = str(exc)
    if isinstance(exc, EOFError) or "Ran out of input" in text or "truncated" in text:
        return ModelFileError(f"{path} is not a readable PyTorch checkpoint: it is truncated (its data ends early)")
    if "magic number" in text:   # the old format begins with torch's own marker pickle
        return ModelFileError(f"{path} is a pickle file but not a PyTorch checkpoint")
    part = "zip archive" if kind == "zip" else "pickle data"
    return ModelFileError(f"{path} is not a readable PyTorch checkpoint: its {part} is damaged")


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
            if _is_forbidden(module, name):
                raise _ForbiddenGlobal(qualified)
            return _opaque_factory(qualified)

    def load(file: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()

    module = types.ModuleType("comosvc_restricted_pickle")
    module.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
    module.load = load  # type: ignore[attr-defined]
    module.__name__ = "comosvc_restricted_pickle"
    return module


def _load_restricted(path: str | os.PathLike, kind: str) -> Any:
    try:
        return torch.load(str(path), map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
    except _ForbiddenGlobal as exc:
        raise ModelFileError(f"{path} is not a readable checkpoint: it refers to {_shown_name(exc.qualified_name)}, "
                             "which a checkpoint never needs; refusing to load it") from None
    except Exception as exc:  # garbage input can fail anywhere inside pickle; it is the user's file, not our bug
        raise _damage(path, kind, exc) from None


def load_checkpoint_restricted(path: str | os.PathLike) -> Any:
    """Unpickle a torch checkpoint; tensors and plain containers only, foreign objects inert."""
    return _load_restricted(path, check_container(path))


def _first_opaque(value: Any, depth: int = 0) -> str | None:
    """The name of the first foreign object inside a loaded checkpoint, if any."""
    if isinstance(value, OpaqueObject):
        return value.qualified_name
    if depth > 20:
        return None
    children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for child in children:
        found = _first_opaque(child, depth + 1)
        if found:
            return found
    return None


def load_checkpoint_weights_only(path: str | os.PathLike) -> Any:
    """torch.load with weights_only=True (for files with nothing but tensors and containers)."""
    kind = check_container(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # torch's refusal runs to many lines about torch; find the reason in our words
        pass
    loaded = _load_restricted(path, kind)   # raises one line for a forbidden global or a damaged file
    foreign = _first_opaque(loaded) or "objects other than tensors"
    raise ModelFileError(f"{path} is not a readable weights-only checkpoint: it holds {foreign}, "
                         "not only tensors, numbers and containers")


def load_checkpoint(path: str | os.PathLike) -> Any:
    """weights_only first; if the file also holds other objects (optimiser, hparams), the inert reader."""
    kind = check_container(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:
        return _load_restricted(path, kind)
