"""The engine in a process of its own: the window sends settings and reads snapshots.

Why: in the window's process the worker shares Python's GIL (and the two cores) with the
plotting, and its compute p99 doubled. Here a child process builds the converter, the
backend (sound devices or simulator) and the Engine from an EngineSpec and runs them, so
a busy or frozen window can neither stall nor stop the audio. `comosvc latency` runs its engine
the same way, beside its probe (realtime.latency_probe), and reads counters() instead of snapshots.

A child is spawned ahead of Start where it can be (EngineProcessStarter): it imports torch and the model
code, then waits for its EngineSpec, so that Start costs the model load and the engine's warm-up only.

Channels (multiprocessing pipes; the 'spawn' context, since torch and Qt do not survive fork):
- control, both ways: (call id, method, args) answered by ("reply", call id, ok, result); the first call
  is "build" with the spec.
  Setters do not wait for their answer; an error in one comes back through take_errors().
- snapshots, child to parent: the newest EngineSnapshot, at most SNAPSHOT_HZ times a second.
  A reader thread in the parent keeps only the latest, so snapshot() never waits on the child.
The child ends when told to, when the control pipe reaches EOF (its parent died) or when
its parent's pid changes.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import itertools
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait as wait_for_connections

import numpy as np

from core.errors import UserError
from realtime.engine_spec import EngineSpec
from realtime.snapshot import EngineSnapshot, empty_snapshot

SNAPSHOT_HZ = 30.0          # what the window draws; more only costs the child time
READY_TIMEOUT_S = 180.0     # spawn + import torch + load the model + the engine's warm-up
CALL_TIMEOUT_S = 30.0       # start (opening devices), stop, recording
CLOSE_TIMEOUT_S = 5.0
SPARE_CLOSE_S = 0.5         # a spare answers close at once unless it is still importing
PARENT_CHECK_S = 0.5        # how often an idle child looks for its parent
READY = 0                   # the call id of the child's build

# the engine methods the window may call in the child, by name
ENGINE_CALLS = frozenset({
    "start", "set_singer", "set_pitch", "set_auto_transpose", "set_retrieval", "set_latent_scale", "set_f0_method",
    "set_gate_threshold",
    "set_input_gain", "set_output_gain", "set_monitor_gain", "set_bypass", "set_preset",
    "start_recording", "stop_recording",
})


# ---- the window's side -------------------------------------------------------------------------
class _Reply:
    def __init__(self, name: str) -> None:
        self.name = name
        self.done = threading.Event()
        self.ok = False
        self.value = None

    def set(self, ok: bool, value) -> None:
        self.ok, self.value = ok, value
        self.done.set()


def end_process(process, ask_to_close: Callable[[], None], grace_s: float, timeout_s: float) -> None:
    """End a child: asked first (if alive), then terminated, then killed; always joined."""
    if process.is_alive():
        try:
            ask_to_close()
        except (OSError, ValueError):
            pass  # its end of the pipe is gone already
        process.join(grace_s)
    for end in (process.terminate, process.kill):
        if process.is_alive():
            end()
            process.join(timeout_s)


class SpawnedChild:
    """A spawned engine process that has imported the engine's modules and waits to be told what to build."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.control, child_control = ctx.Pipe(duplex=True)
        self.snapshots, child_snapshots = ctx.Pipe(duplex=False)
        # The child's stderr, native libraries' included (PortAudio prints and asserts there when a JACK
        # server vanishes): kept from the terminal, whose user gets one line (see EngineProcess._on_gone).
        handle, self.stderr_path = tempfile.mkstemp(prefix="comosvc-engine-", suffix=".log")
        os.close(handle)
        self.process = ctx.Process(target=run_child,
                                   args=(child_control, child_snapshots, os.getpid(), self.stderr_path),
                                   name="comosvc-engine", daemon=True)
        self.process.start()
        child_control.close()  # ours to the child only: its death must read as EOF here
        child_snapshots.close()

    def close(self) -> None:
        """End a child that was never used (it holds no audio: one still importing is simply terminated)."""
        end_process(self.process, lambda: self.control.send((READY, "close", ())), SPARE_CLOSE_S, CLOSE_TIMEOUT_S)
        self.control.close()
        self.snapshots.close()
        take_child_stderr(self.stderr_path)


class EngineProcessStarter:
    """Starts engine processes with one child always spawned ahead, so that Start does not wait for
    Python to import torch (seconds on two busy cores). The spare is spawned when the starter is made and
    again whenever an engine process ends, never while one runs; close() ends it."""

    def __init__(self, snapshot_hz: float | None = None) -> None:
        self.snapshot_hz = snapshot_hz
        self._lock = threading.Lock()
        self._spare: SpawnedChild | None = None
        self._closed = False
        self.prepare()

    def prepare(self) -> None:
        with self._lock:
            if not self._closed and (self._spare is None or not self._spare.process.is_alive()):
                if self._spare is not None:  # a spare that died unused: its pipes and stderr file go too
                    self._spare.close()
                self._spare = SpawnedChild()

    @property
    def spare_pid(self) -> int | None:
        spare = self._spare
        return spare.process.pid if spare is not None else None

    def start(self, spec: EngineSpec) -> "EngineProcess":
        """An engine process for `spec` (built, not started), on the spare when it is still alive."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and not spare.process.is_alive():
            spare.close()
            spare = None
        return EngineProcess(spec, snapshot_hz=self.snapshot_hz, spawned=spare, on_closed=self.prepare)

    def close(self) -> None:
        """No more engines: end the spare, and spawn none when a running engine ends."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()


class EngineProcess:
    """Used like realtime.engine.Engine (start, stop, wait, running, singers, snapshot(), the setters),
    with the engine itself in a spawned process. Making one sends the spec to the child and waits until
    the child has built its engine."""

    def __init__(self, spec: EngineSpec, ready_timeout_s: float = READY_TIMEOUT_S,
                 snapshot_hz: float | None = None, spawned: "SpawnedChild | None" = None,
                 on_closed: Callable[[], None] | None = None) -> None:
        """`spawned`: a child spawned ahead (EngineProcessStarter), else one is spawned now. `on_closed` runs
        once the child has ended."""
        spawned = spawned if spawned is not None else SpawnedChild()
        self._control, self._snapshots, self._process = spawned.control, spawned.snapshots, spawned.process
        self._stderr_path = spawned.stderr_path
        self._on_closed = on_closed
        self._send_lock = threading.Lock()
        # one thread at a time waits for the child: two waitpid calls race, and the loser would see it "alive"
        self._reap_lock = threading.Lock()
        self._ids = itertools.count(READY + 1)
        # kept here too: the reader takes the answer out of _replies, which can happen before we wait for it
        ready = _Reply("build the engine")
        self._replies: dict[int, _Reply] = {READY: ready}
        self._errors: deque[str] = deque(maxlen=50)
        self._latest: EngineSnapshot = empty_snapshot(24000, spec.preset.block_ms)
        self._ended = threading.Event()     # the backend ended by itself, or the process did
        self._gone = threading.Event()      # the process ended
        self._closing = False
        self._started = self._stopped = False
        self.end_reason: str | None = None  # why the engine ended by itself (a device lost, the process died)
        self.singers: list[str] = []
        self.singer: str | None = None
        self.f0_methods: list[str] = []
        self.retrieval_available = False
        self.own_latent_scale: float | None = None
        self.description = ""
        self._reader = threading.Thread(target=self._read, name="engine-process-reader", daemon=True)
        self._reader.start()
        try:
            try:
                with self._send_lock:
                    self._control.send((READY, "build", (spec, snapshot_hz or SNAPSHOT_HZ)))
            except (OSError, ValueError):
                pass  # it died while waiting; the reader reports how
            self._apply_info(self._wait(READY, ready, ready_timeout_s))
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        return self._process.pid

    # ---- receiving ------------------------------------------------------------------------------
    def _read(self) -> None:
        open_ends = [self._control, self._snapshots]
        while open_ends:  # until both reach EOF: a last answer may follow the other pipe's end
            for conn in wait_for_connections(open_ends):
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    open_ends.remove(conn)
                    continue
                if conn is self._snapshots:
                    self._latest, ended, why = message
                    if ended:
                        self.end_reason = self.end_reason or why
                        self._ended.set()
                elif message[0] == "reply":
                    self._on_reply(*message[1:])
                elif message[0] == "info":
                    self._apply_info(message[1])
        self._on_gone()

    def _on_reply(self, call_id: int, ok: bool, value) -> None:
        reply = self._replies.pop(call_id, None)
        if reply is not None:
            reply.set(ok, value)
        elif not ok:  # a setter nobody waited for
            self._errors.append(value[1])

    def _apply_info(self, info: dict) -> None:
        self.singers = list(info["singers"])
        self.singer = info["singer"]
        self.f0_methods = list(info["f0_methods"])
        self.retrieval_available = bool(info["retrieval_available"])
        self.own_latent_scale = info["own_latent_scale"]
        self.description = info["description"]

    def _on_gone(self) -> None:
        with self._reap_lock:
            self._process.join(CLOSE_TIMEOUT_S)  # reap it: no zombie
        self._latest = replace(self._latest, running=False)
        last_words = take_child_stderr(self._stderr_path)
        if not self._closing:
            exit_text = describe_exit(self._process.exitcode)
            if JACK_HOST_SOURCE in last_words:  # PortAudio's JACK host asserts when its server vanished under it
                self.end_reason = ("the JACK server went away under the audio engine, whose process then ended "
                                   f"({exit_text})")
            else:
                self.end_reason = f"the audio engine process ended unexpectedly ({exit_text})"
            if last_words:
                self.end_reason += f": {last_words}"
        self._gone.set()
        self._ended.set()
        for reply in list(self._replies.values()):
            reply.set(False, ("user", self.end_reason or "the audio engine process has ended"))
        self._replies.clear()

    # ---- calling --------------------------------------------------------------------------------
    def _send(self, name: str, *args, wait: bool = False, timeout_s: float = CALL_TIMEOUT_S):
        """Send one call; with wait, its result (or its error, raised here)."""
        if self._gone.is_set():
            if wait:
                raise UserError(self.end_reason or "the audio engine process has ended")
            return None
        call_id = next(self._ids)
        reply = _Reply(f"answer {name}")
        with self._send_lock:
            if wait:  # registered before sending: the answer can come back before we wait for it
                self._replies[call_id] = reply
            try:
                self._control.send((call_id, name, args))
            except (OSError, ValueError):
                self._replies.pop(call_id, None)
                if wait:
                    raise UserError(self.end_reason or "the audio engine process has ended") from None
                return None
        return self._wait(call_id, reply, timeout_s) if wait else None

    def _wait(self, call_id: int, reply: _Reply, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while not reply.done.wait(0.1):
            if self._gone.is_set() and not reply.done.is_set():
                raise UserError(self.end_reason or "the audio engine process has ended")
            if time.monotonic() > deadline:
                self._replies.pop(call_id, None)
                raise UserError(f"the audio engine process did not {reply.name} within {timeout_s:.0f} s")
        if not reply.ok:
            raise rebuild_error(*reply.value)
        return reply.value

    def take_errors(self) -> list[str]:
        """Messages of setters that failed in the child since the last call (oldest first)."""
        taken = []
        while self._errors:
            taken.append(self._errors.popleft())
        return taken

    # ---- the Engine's interface -----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._started and not self._stopped and not self._gone.is_set()

    def start(self) -> None:
        self._send("start", wait=True)
        self._started = True

    def stop(self) -> None:
        """Stop the engine and end its process (a new start builds a new one)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._latest = self._send("stop", wait=True)
        except UserError:
            pass  # it ended already; closing below reaps it
        finally:
            self.close()

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """End the child: asked first, then terminated, then killed; always reaped."""
        self._closing = True
        with self._reap_lock:
            def ask() -> None:
                with self._send_lock:
                    self._control.send((next(self._ids), "close", ()))

            end_process(self._process, ask, timeout_s, timeout_s)
        if self._reader.is_alive() and self._reader is not threading.current_thread():
            self._reader.join(timeout_s)
        if not self._reader.is_alive():  # closing under a waiting reader would be unsafe
            self._control.close()
            self._snapshots.close()
        on_closed, self._on_closed = self._on_closed, None
        if on_closed is not None:
            on_closed()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the backend ended by itself (device lost) or the process ended."""
        return self._ended.wait(timeout)

    def snapshot(self) -> EngineSnapshot:
        return self._latest

    def set_singer(self, name: str) -> None:
        if self.singers and name not in self.singers:  # refused here at once; the child checks too
            raise UserError(f"unknown singer '{name}'; known singers: {', '.join(self.singers)}")
        self._send("set_singer", name)
        self.singer = name

    def set_pitch(self, semitones: float) -> None:
        self._send("set_pitch", float(semitones))

    def set_auto_transpose(self, on: bool) -> None:
        self._send("set_auto_transpose", bool(on))

    def set_retrieval(self, ratio: float) -> None:
        from core.features.retrieval import check_retrieval_ratio, no_index_error

        ratio = check_retrieval_ratio(ratio)  # refused here at once; the child checks too
        if ratio > 0 and not self.retrieval_available:
            raise no_index_error(None)
        self._send("set_retrieval", ratio)

    def set_latent_scale(self, scale: float | None) -> None:
        from core.sampling_settings import checked_live_latent_scale

        # refused here at once; the child checks too
        self._send("set_latent_scale", checked_live_latent_scale(scale, self.own_latent_scale, self.description))

    def set_f0_method(self, name: str) -> None:
        if self.f0_methods and name not in self.f0_methods:
            raise UserError(f"unknown f0 method '{name}'; available: {', '.join(self.f0_methods)}")
        self._send("set_f0_method", name)

    def set_gate_threshold(self, db: float) -> None:
        self._send("set_gate_threshold", float(db))

    def set_input_gain(self, db: float) -> None:
        self._send("set_input_gain", float(db))

    def set_output_gain(self, db: float) -> None:
        self._send("set_output_gain", float(db))

    def set_monitor_gain(self, db: float) -> None:
        self._send("set_monitor_gain", float(db))

    def set_bypass(self, on: bool) -> None:
        self._send("set_bypass", bool(on))

    def set_preset(self, preset) -> None:
        self._send("set_preset", preset)

    def swap_model(self, model: str, device: str | None = None) -> None:
        """The child loads `model` on `device` and swaps to it (crossfaded); singers follow when it is done."""
        self._send("swap_model", model, device)

    def swap_converter(self, converter) -> None:
        """A converter loaded in this process cannot cross over; the child loads the same model file instead."""
        model = getattr(getattr(converter, "model", None), "path", None) or ""
        device = getattr(converter, "device", None)
        self.swap_model(str(model), None if device is None else str(device))

    def start_recording(self, folder: str) -> None:
        self._send("start_recording", folder, wait=True)

    def stop_recording(self) -> list[str]:
        if self._gone.is_set():
            return []
        return self._send("stop_recording", wait=True)

    def counters(self) -> "EngineCounters":
        """The engine's latency, drop and xrun counters now (asks the child and waits; for `comosvc latency`)."""
        return self._send("counters", wait=True)

    def publisher_stats(self) -> dict:
        """What publishing snapshots costs the child (for bench/bench_gui_engine.py)."""
        return self._send("publisher_stats", wait=True)


JACK_HOST_SOURCE = "pa_jack.c"  # PortAudio's JACK host API, named in its assertion messages


def take_child_stderr(path: str) -> str:
    """The last line a child wrote to its stderr file (""), which is removed. A Python traceback in it
    (a bug, not a user's error) is passed on to this process's stderr, where it used to go directly."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.path.getsize(path) - 64_000))
            text = file.read().decode("utf-8", "replace")
        os.remove(path)
    except OSError:
        return ""
    if "Traceback (most recent call last)" in text:
        sys.stderr.write(text[text.index("Traceback (most recent call last)"):])
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def describe_error(exc: BaseException) -> tuple[str, str]:
    """An exception as (kind, message), to cross the pipe without pickling the exception."""
    if isinstance(exc, UserError):
        return "user", str(exc)
    if isinstance(exc, OSError):
        return "os", str(exc)
    return type(exc).__name__, str(exc)


def rebuild_error(kind: str, message: str) -> Exception:
    if kind == "user":
        return UserError(message)
    if kind == "os":
        return OSError(message)
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return RuntimeError(f"{kind}: {message}")


# ---- the engine's side (runs in the child) ------------------------------------------------------
class SnapshotPublisher:
    """A thread sending the engine's newest snapshot, at most `hz` times a second, and only when it changed.
    A slow reader makes it wait in the pipe write (outside the GIL), never the worker."""

    def __init__(self, engine, conn: Connection, hz: float = SNAPSHOT_HZ) -> None:
        self.engine, self.conn, self.period = engine, conn, 1.0 / hz
        self.send_ms: deque[float] = deque(maxlen=2000)  # wall time per send (includes waiting for the reader)
        self.cpu_ms: deque[float] = deque(maxlen=2000)   # this thread's CPU time per send: its cost to the child
        self._cpu_total_s = 0.0
        self._started = time.perf_counter()
        self._stop = threading.Event()
        # set once engine.start() has returned: asked earlier, a device backend still opening its streams
        # would call them dead (and remember that)
        self.started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(CLOSE_TIMEOUT_S)

    def _run(self) -> None:
        last, ended_sent = None, False
        try:
            while not self._stop.wait(self.period):
                snap = self.engine.snapshot()
                ended = bool(self.started.is_set() and self.engine.running and self.engine.wait(0))
                if snap is last and ended == ended_sent:
                    continue
                t0, cpu0 = time.perf_counter(), time.thread_time()
                why = getattr(self.engine.backend, "lost", None) if ended else None  # e.g. "... was unplugged"
                self.conn.send((snap, ended, why))
                self.send_ms.append(1000.0 * (time.perf_counter() - t0))
                self.cpu_ms.append(1000.0 * (time.thread_time() - cpu0))
                self._cpu_total_s += time.thread_time() - cpu0
                last, ended_sent = snap, ended
        except (OSError, ValueError):
            pass  # the parent is gone; the command loop ends the process

    def stats(self) -> dict:
        def pct(values, q):
            return float(np.percentile(list(values), q)) if values else 0.0

        return {"sends": len(self.send_ms), "send_p50_ms": pct(self.send_ms, 50), "send_p99_ms": pct(self.send_ms, 99),
                "cpu_p50_ms": pct(self.cpu_ms, 50), "cpu_p99_ms": pct(self.cpu_ms, 99),
                "hz": 1.0 / self.period,
                "cpu_share": self._cpu_total_s / max(time.perf_counter() - self._started, 1e-9)}  # of one core


@dataclass(frozen=True)
class EngineCounters:
    """What a measurement reads off the engine at one moment, exactly (a snapshot comes up to a block late)."""
    latency_samples: int      # the engine's input-to-output delay in device samples (Engine.latency_samples)
    latency_changes: int      # times it changed while running (adaptation, rebuilds)
    drops: int
    xruns: int
    device_latency_ms: float  # what the backend states for its streams


def engine_counters(engine) -> EngineCounters:
    return EngineCounters(int(engine.latency_samples), int(engine.latency_change_count), int(engine.drops),
                          int(engine.xruns), float(getattr(engine.backend, "device_latency_ms", 0.0)))


def engine_info(engine) -> dict:
    return {"singers": list(engine.singers), "singer": engine.singer, "f0_methods": list(engine.converter.f0_methods),
            "retrieval_available": bool(getattr(engine.converter, "retrieval_available", False)),
            "own_latent_scale": getattr(engine.converter, "own_latent_scale", None),
            "description": engine.converter.description}


def run_child(control: Connection, snapshots: Connection, parent_pid: int, stderr_path: str | None = None) -> None:
    """The child process: import the engine's modules, wait for a spec, build the engine, answer calls,
    publish snapshots, end with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the window's to handle
    if stderr_path:  # file descriptor 2 itself, so that native libraries write there too
        handle = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
        os.dup2(handle, 2)
        os.close(handle)
    try:
        _run_child(control, snapshots, parent_pid)
    finally:
        if stderr_path and os.getppid() != parent_pid:
            with contextlib.suppress(OSError):  # the window that would read and remove it is gone
                os.remove(stderr_path)


def _run_child(control: Connection, snapshots: Connection, parent_pid: int) -> None:
    _import_ahead()
    from realtime.engine_spec import build_engine

    call = _next_call(control, parent_pid)
    if call is None or call[1] != "build":
        return  # a spare that was never used, or an orphan
    call_id, _, (spec, snapshot_hz) = call
    try:
        engine = build_engine(spec)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the window as a message
        _report_failure(exc)
        _try_send(control, ("reply", call_id, False, describe_error(exc)))
        return
    if not _try_send(control, ("reply", call_id, True, engine_info(engine))):
        return
    publisher = SnapshotPublisher(engine, snapshots, snapshot_hz)
    publisher.start()
    try:
        _serve(engine, control, publisher, parent_pid)
    finally:
        try:
            engine.stop()
        except Exception as exc:  # noqa: BLE001
            _report_failure(exc)
        publisher.stop()
        control.close()
        snapshots.close()


def _import_ahead() -> None:
    """The slow imports (torch, the model code, the live pitch trackers' libraries), done while the child
    waits for its spec. Not sounddevice: PortAudio lists the devices (and JACK servers) there are when it
    loads, and those must be the ones at Start."""
    import importlib

    import realtime.engine  # noqa: F401
    import realtime.model_converter  # noqa: F401

    for optional in ("torchfcpe", "core.features.pitch_world"):  # FCPE, and DIO/Harvest (pyworld)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # torchfcpe talks on stdout
                importlib.import_module(optional)
        except ImportError:
            pass  # the engine says so itself if it needs one


def _next_call(control: Connection, parent_pid: int) -> tuple | None:
    """The next (call id, name, args) from the window; None once it said close or is gone."""
    while True:
        try:
            if not control.poll(PARENT_CHECK_S):
                if os.getppid() != parent_pid:
                    return None  # orphaned: the audio must not outlive the window
                continue
            call = control.recv()
        except (EOFError, OSError):
            return None  # the parent's end closed: it died
        return None if call[1] == "close" else call


def _serve(engine, control: Connection, publisher: SnapshotPublisher, parent_pid: int) -> None:
    while True:
        call = _next_call(control, parent_pid)
        if call is None:
            return
        call_id, name, args = call
        try:
            ok, result = True, _call(engine, control, publisher, name, args)
        except BaseException as exc:  # noqa: BLE001
            _report_failure(exc)
            ok, result = False, describe_error(exc)
        if not _try_send(control, ("reply", call_id, ok, result)):
            return


def _call(engine, control: Connection, publisher: SnapshotPublisher, name: str, args: tuple):
    if name == "stop":
        engine.stop()
        return engine.snapshot()
    if name == "swap_model":
        from realtime.model_converter import make_converter

        model, device = args
        engine.swap_converter(make_converter(model or None, device))
        _try_send(control, ("info", engine_info(engine)))
        return None
    if name == "publisher_stats":
        return publisher.stats()
    if name == "counters":
        return engine_counters(engine)
    if name == "start":
        engine.start()
        publisher.started.set()
        return None
    if name not in ENGINE_CALLS:
        raise UserError(f"the audio engine has no call '{name}'")
    return getattr(engine, name)(*args)


def _try_send(conn: Connection, message) -> bool:
    try:
        conn.send(message)
        return True
    except (OSError, ValueError):
        return False


def _report_failure(exc: BaseException) -> None:
    """The window shows one line; a failure that is not the user's also leaves its traceback on stderr."""
    if not isinstance(exc, (UserError, OSError)):
        traceback.print_exception(exc, file=sys.stderr)
