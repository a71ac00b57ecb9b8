"""`comosvc live`: convert the input device to the output device in real time until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

import numpy as np

from cli.device_flag import add_device_flag
from cli.threads_flag import add_threads_flag, check_threads, use_threads
from cli.output import add_json_flag, print_json


def register(subparsers) -> None:
    from core.features.pitch_settings import LIVE_AUTO_OCTAVE_HELP, PITCH_SHIFT_HELP
    from core.features.retrieval_settings import RETRIEVAL_HELP
    from core.sampling_settings import LATENT_SCALE_HELP

    parser = subparsers.add_parser(
        "live",
        help="real-time conversion from an input to an output device (until Ctrl-C)",
        description="Run the live engine on audio devices and print a status line (latency, compute p50/p99, "
        "xruns, input level). Without --model it uses the default model, or where there is none the stand-in converter "
        "(no model loaded). See 'comosvc devices' for device names and indices.",
    )
    parser.add_argument("--input", help="input device (index or part of its name; default: system default)")
    parser.add_argument("--output", help="output device (index or part of its name; default: system default)")
    parser.add_argument("--samplerate", type=int, help="device rate (default: the input device's default)")
    parser.add_argument("--device-block", type=int, default=256, help="device buffer in samples (default 256)")
    parser.add_argument("--preset", default="balanced", help="preset name or YAML/JSON file (default: balanced)")
    parser.add_argument("--model", help="model file or name (default: the default model; the WORLD stand-in where there is none)")
    parser.add_argument("--singer", help="target singer name")
    parser.add_argument("--pitch", type=float, default=0.0, help=f"{PITCH_SHIFT_HELP} (default 0)")
    parser.add_argument("--f0-method", help="F0 method: dio, harvest, fcpe, crepe, crepe-full (the stand-in: dio or harvest)")
    parser.add_argument("--retrieval", type=float, default=0.0, help=RETRIEVAL_HELP)
    parser.add_argument("--latent-scale", type=float, default=None, help=LATENT_SCALE_HELP)
    parser.add_argument("--auto-octave", action="store_true", help=LIVE_AUTO_OCTAVE_HELP)
    parser.add_argument("--gate", type=float, help="gate threshold in dBFS")
    parser.add_argument("--bypass", action="store_true", help="start in bypass (dry, latency-aligned)")
    parser.add_argument("--record", metavar="DIR", help="record input.wav and output.wav into DIR")
    parser.add_argument("--duration", type=float, help="stop after this many seconds instead of waiting for Ctrl-C")
    add_device_flag(parser)
    add_threads_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def status_line(s) -> str:
    return (f"latency {s.latency_ms:.0f} ms (+{s.device_latency_ms:.0f} device) | compute p50 {s.compute_p50_ms:.1f} "
            f"p99 {s.compute_p99_ms:.1f} ms of {s.block_ms:.0f} | xruns {s.xruns} | in {s.input_level_db:6.1f} dBFS"
            f"{' | gate open' if s.gate_open else ''}{' | BYPASS' if s.bypass else ''}{' | REC' if s.recording else ''}")


def _check_options(args) -> None:
    """The options that need no device or model, each refused in one line before either is touched."""
    from core.errors import UserError
    from core.features.pitch_settings import check_pitch_shift
    from core.features.retrieval_settings import check_retrieval_ratio
    from core.sampling_settings import check_latent_scale
    from realtime.device_query import check_device_block, check_samplerate

    check_pitch_shift(args.pitch)
    check_retrieval_ratio(args.retrieval)
    if args.latent_scale is not None:
        check_latent_scale(args.latent_scale)
    if args.duration is not None and not args.duration > 0:
        raise UserError(f"--duration must be above 0 seconds, got {args.duration:g}")
    check_device_block(args.device_block)
    check_samplerate(args.samplerate)
    if args.record:
        from core.audio.io import check_output_folder  # (io imports torch: only when there is a folder to check)

        check_output_folder(args.record, "--record")
    if args.gate is not None and args.gate > 0:
        raise UserError(f"--gate is a level in dBFS, 0 or below (e.g. -50); at {args.gate:g} it would never open")


def run(args) -> int:
    from core.errors import UserError
    from realtime.devices import SoundDeviceBackend
    from realtime.presets import load_preset

    _check_options(args)  # before the model loads and the devices open
    check_threads(args.threads)
    preset = load_preset(args.preset)
    backend = SoundDeviceBackend(args.input, args.output, args.samplerate, blocksize=args.device_block)
    # a missing or refusing device is named before torch and the model load (seconds on a small machine)
    backend.check_devices()

    from cli.commands.simulate import controls_from_args, make_converter
    from realtime.engine import Engine
    from realtime.snapshot import new_messages

    use_threads(args.threads)
    converter = make_converter(args.model, args.device, args.latent_scale)
    engine = Engine(converter, preset, backend)
    for name, value in controls_from_args(args).items():
        getattr(engine, f"set_{name}")(value)
    if args.gate is not None:
        engine.set_gate_threshold(args.gate)
    engine.set_bypass(args.bypass)
    if not args.json:
        singer = f"singer {engine.singer}" + ("" if args.singer else " (the first; --singer picks another)")
        print(f"{converter.description}; {singer}; preset {preset.name}; {backend.samplerate} Hz; Ctrl-C to stop",
              flush=True)
    engine.start()
    if args.record:
        try:
            engine.start_recording(args.record)
        except BaseException:
            engine.stop()
            raise
    t_end = time.monotonic() + args.duration if args.duration else None
    seen = 0
    terminated: list[int] = []
    try:
        with _sigterm_as_interrupt(terminated):
            while engine.running and (t_end is None or time.monotonic() < t_end):
                if backend.wait(0.5):
                    break
                snap = engine.snapshot()
                fresh, seen = new_messages(snap, seen)
                for message in fresh:
                    if not args.json:
                        print(flush=True)  # end the status line, so the message gets a line of its own
                    print(message, file=sys.stderr, flush=True)
                if not args.json:
                    print("\r" + status_line(snap), end="", flush=True)
    except KeyboardInterrupt:
        pass
    paths = engine.stop_recording()
    engine.stop()
    if backend.lost:
        kept = f"; the recording so far is in {args.record}" if paths else ""
        if not args.json:
            print()  # end the status line
        raise UserError(f"{backend.lost}{kept}")
    snap = engine.snapshot()
    lateness = backend.callback_lateness_ms()
    late_p50, late_p99 = (float(np.percentile(lateness, 50)), float(np.percentile(lateness, 99))) if len(lateness) \
        else (0.0, 0.0)
    if args.json:
        print_json({"latency_ms": snap.latency_ms, "device_latency_ms": snap.device_latency_ms,
                    "block_ms": snap.block_ms, "compute_p50_ms": snap.compute_p50_ms,
                    "compute_p99_ms": snap.compute_p99_ms, "xruns": snap.xruns, "drops": snap.drops,
                    "converter": converter.description, "singer": engine.singer, "recorded": paths,
                    "callback_lateness_p50_ms": late_p50, "callback_lateness_p99_ms": late_p99})
    else:
        print(f"\ncallback lateness (vs an ideal device clock): p50 {late_p50:.2f} ms, p99 {late_p99:.2f} ms")
        for path in paths:
            print(f"wrote {path}")
    return 128 + signal.SIGTERM if terminated else 0


@contextlib.contextmanager
def _sigterm_as_interrupt(terminated: list[int]):
    """SIGTERM (`timeout`, a service manager) ends the run as Ctrl-C does, so the recording is closed properly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)  # a second SIGTERM during clean-up ends the process at once
