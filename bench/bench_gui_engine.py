"""The worker's compute with the window open and plotting: engine in the window's process against its own.

Runs, one after the other in one script so that they share the machine's conditions:
  headless  the engine alone (no window): the reference
  in        `comosvc gui --engine-in-process`: window, plots and engine in one process
  own       `comosvc gui` (default): the engine (worker and simulated device) in a spawned process
  own-1hz   as own, but the child publishes one snapshot a second: what publishing at 30 Hz costs the worker
  headless-busy  headless, with another process spinning on a core all the time: whether the window
            costs the worker more than any program busy on the other core would
Each runs the simulator looping VOICE in real time (as `comosvc gui --simulate VOICE`), with the default
model and the chosen preset, waits --warmup seconds, then reads the worker's per-block compute times
from snapshots every 200 blocks (the snapshot keeps the last 200) for --seconds. The window is
offscreen and draws every snapshot, as on screen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_engine.py VOICE.wav [--seconds 24]
        [--preset balanced] [--modes headless in own] [--rounds 1] [--threads N] [--draw-hz 30] [--json]

--draw-hz sets how often the window polls and draws a snapshot (the app's gui.controller default is 30).

Figures on a shared machine are relative only: compare modes within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from cli.threads_flag import LIVE_TORCH_THREADS, use_threads  # noqa: E402

RATE = 48000
HISTORY_BLOCKS = 200  # realtime.stats.History in the engine's snapshot
MODES = ("headless", "in", "own", "own-1hz", "headless-busy")


def collect(snapshot, block_ms: float, seconds: float, wait) -> tuple[list[float], object, object]:
    """Compute times of the blocks in `seconds` (read every HISTORY_BLOCKS blocks), first and last snapshot."""
    first = snapshot()
    times: list[float] = []
    every = HISTORY_BLOCKS * block_ms / 1000.0
    left = seconds
    while left > 1e-3:
        step = min(every, left)
        wait(step)
        left -= step
        snap = snapshot()
        n = int(round(step * 1000.0 / block_ms))
        times.extend(np.asarray(snap.compute_ms, dtype=np.float64)[-n:].tolist())
    return times, first, snapshot()


def summary(mode: str, times: list[float], first, last, extra: dict) -> dict:
    t = np.asarray(times) if times else np.zeros(1)
    return {"mode": mode, "blocks": len(times), "block_ms": last.block_ms,
            "compute_p50_ms": round(float(np.percentile(t, 50)), 2),
            "compute_p99_ms": round(float(np.percentile(t, 99)), 2),
            "compute_max_ms": round(float(t.max()), 2),
            "p99_of_block": round(float(np.percentile(t, 99)) / last.block_ms, 3),
            "xruns": int(last.xruns - first.xruns), "drops": int(last.drops - first.drops),
            "latency_ms": round(float(last.latency_ms), 1), **extra}


def run_headless(spec, warmup: float, seconds: float, busy: bool = False) -> dict:
    import subprocess

    from realtime.engine_spec import build_engine

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    engine = build_engine(spec)
    engine.start()
    try:
        time.sleep(warmup)
        times, first, last = collect(engine.snapshot, engine.snapshot().block_ms or spec.preset.block_ms, seconds,
                                     time.sleep)
    finally:
        engine.stop()
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return summary("headless-busy" if busy else "headless", times, first, last, {})


def run_window(mode: str, settings_path: str, audio: np.ndarray, warmup: float, seconds: float) -> dict:
    from PyQt6.QtCore import QEventLoop, QTimer

    from gui.app import _SimulatorDevices, get_app
    from gui.controller import EngineController, ModelLoader
    from gui.engine_factory import EngineProcessBuilder, build_engine, make_converter
    from gui.main_window import MainWindow
    from gui.settings import SettingsStore

    app = get_app()
    store = SettingsStore(settings_path)

    def builder(s):
        return build_engine(s, audio, controller.preloaded_converter(s.model, s.compute_device))

    if mode != "in":  # as gui.app.build_window: one process spawned ahead with the window
        builder = EngineProcessBuilder(audio, snapshot_hz=1.0 if mode == "own-1hz" else None)
    controller = EngineController(builder, store.load())
    window = MainWindow(controller, store, ModelLoader(lambda p: make_converter(p, controller.settings.compute_device)),
                        device_source=_SimulatorDevices())
    window.show()

    def wait(seconds_: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds_ * 1000), loop.quit)
        loop.exec()

    window.model_loader.wait()  # the window's own model load (singer list) is not measured
    app.processEvents()
    t0 = time.monotonic()
    controller.start()
    deadline = t0 + 120
    while not controller.running and time.monotonic() < deadline:
        wait(0.05)
    if not controller.running:
        raise SystemExit(f"{mode}: the engine did not start: {window.messages()}")
    start_s = time.monotonic() - t0  # Start pressed to running (a spawned process imports torch, loads the model)
    try:
        wait(warmup)
        frames0, cpu0, wall0 = window.live.frames_drawn, time.process_time(), time.monotonic()
        engine = controller.engine
        times, first, last = collect(engine.snapshot, engine.snapshot().block_ms, seconds, wait)
        # the window's process: all of it in own modes; window and engine together in "in"
        window_cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        extra = {"frames_drawn_per_s": round((window.live.frames_drawn - frames0) / seconds, 1),
                 "start_s": round(start_s, 2), "window_process_cpu_share": round(window_cpu, 3)}
        if mode != "in":
            stats = engine.publisher_stats()
            extra["publish_hz"] = stats["hz"]
            extra["publish_cpu_p50_ms"] = round(stats["cpu_p50_ms"], 3)
            extra["publish_cpu_p99_ms"] = round(stats["cpu_p99_ms"], 3)
            extra["publish_cpu_share"] = round(stats["cpu_share"], 4)  # of one core, in the engine's process
    finally:
        controller.shutdown()
        window.close()
        app.processEvents()
    return summary(mode, times, first, last, extra)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("voice", nargs="?", help="audio file to loop (default: the built-in demo phrase)")
    parser.add_argument("--seconds", type=float, default=24.0, help="measured seconds per mode")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after start before measuring")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["headless", "in", "own"])
    parser.add_argument("--rounds", type=int, default=1, help="repeat the modes, interleaved")
    parser.add_argument("--threads", type=int, default=LIVE_TORCH_THREADS,
                        help=f"torch threads in every process (OMP_NUM_THREADS; default {LIVE_TORCH_THREADS}, as the app); "
                        "0 = torch's own default")
    parser.add_argument("--draw-hz", type=float, default=None,
                        help="snapshots the window polls and draws per second (default: the app's, about 30)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.draw_hz is not None:
        import gui.controller

        gui.controller.SNAPSHOT_INTERVAL_MS = max(1, int(round(1000.0 / args.draw_hz)))
    if args.threads > 0:  # as `comosvc gui` does: here and (inherited) in the engine's process
        use_threads(args.threads)

    from dataclasses import replace

    from gui.app import load_simulation_input
    from gui.engine_factory import engine_spec
    from gui.settings import GuiSettings, SettingsStore
    from realtime.presets import load_preset

    audio = load_simulation_input(args.voice, RATE)
    preset = load_preset(args.preset)
    settings = replace(GuiSettings(), preset=args.preset, block_ms=preset.block_ms,
                       crossfade_ms=preset.crossfade_ms, lookahead_ms=preset.lookahead_ms,
                       sola_search_ms=preset.sola_search_ms)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        settings_path = str(Path(tmp) / "gui.json")
        SettingsStore(settings_path).save(settings)
        for _ in range(args.rounds):
            for mode in args.modes:
                if mode.startswith("headless"):
                    result = run_headless(engine_spec(settings, audio), args.warmup, args.seconds,
                                          busy=mode == "headless-busy")
                else:
                    result = run_window(mode, settings_path, audio, args.warmup, args.seconds)
                results.append(result)
                if not args.json:
                    print(json.dumps(result), flush=True)
    if args.json:
        print(json.dumps({"voice": args.voice or "demo", "preset": args.preset, "seconds": args.seconds,
                          "threads": args.threads or "default", "results": results}, indent=2))
    else:
        print(f"\n{'mode':9} {'p50 ms':>7} {'p99 ms':>7} {'p99/block':>9} {'xruns':>6} {'drops':>6} {'frames/s':>8} "
              f"{'start s':>7}")
        for r in results:
            print(f"{r['mode']:9} {r['compute_p50_ms']:7.1f} {r['compute_p99_ms']:7.1f} {r['p99_of_block']:9.2f} "
                  f"{r['xruns']:6d} {r['drops']:6d} {r.get('frames_drawn_per_s', 0):8.1f} {r.get('start_s', 0):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
