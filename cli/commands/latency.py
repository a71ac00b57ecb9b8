"""`comosvc latency`: measure the latency end to end through the live engine, or the device round trip alone."""

from __future__ import annotations

from cli.output import add_json_flag, print_json
from cli.threads_flag import add_threads_flag, check_threads, use_threads

MAX_PHRASE_S = 10.0  # a longer --phrase is cut: the onset match needs a phrase, not a song
MIN_PHRASE_PEAK = 0.01  # -40 dBFS: quieter than this stays under the presets' gate


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "latency",
        help="measure mic-to-ear latency through the live engine (a probe plays into it and records it)",
        description="Run the live engine (the chosen --model and --preset) on --input/--output and a probe on "
        "--probe-input/--probe-output; the probe plays into the engine's input and records its output. It measures "
        "(1) the probe's own round trip, output straight into input: the loopback, subtracted from every figure; "
        "(2) the engine in bypass with chirps (an exact delay: compared with the latency the engine reports); "
        "(3) the engine converting a sung phrase after silence (matched where its loudness rises, note by note): "
        "mic-to-ear. "
        "On JACK the probe connects the ports itself (jack_connect) and adds the sound card's latency as JACK "
        "states it, since the graph skips the converters. On a sound card, cable probe output -> engine input and "
        "engine output -> probe input, and give the probe's own round trip, measured first with --devices-only "
        "and a cable from probe output to probe input, as --loopback-ms. mic-to-ear = the converted figure + (on "
        "JACK) the card's stated latency; the bypass figure + the same is compared with what the live status bar "
        "shows. --devices-only: only the chirp round "
        "trip through --output and --input, next to the engine's stated latency.",
    )
    parser.add_argument("--input", help="the engine's input device (index or part of its name; default: the "
                        "system default)")
    parser.add_argument("--output", help="the engine's output device (index or part of its name; default: the "
                        "system default)")
    parser.add_argument("--probe-input", help="the probe's input device (default: the same as --input)")
    parser.add_argument("--probe-output", help="the probe's output device (default: the same as --output)")
    parser.add_argument("--samplerate", type=int, default=48000, help="device rate (default 48000)")
    parser.add_argument("--device-block", type=int, default=256, help="device buffer in samples (default 256)")
    parser.add_argument("--lead-in", type=float, default=0.5, metavar="S",
                        help="--devices-only: seconds of silence before the probe, e.g. to make connections "
                        "(default 0.5)")
    parser.add_argument("--preset", default="balanced", help="preset name or YAML/JSON file (default: balanced)")
    parser.add_argument("--model", help="model file or name (default: the default model; the WORLD stand-in where "
                        "there is none; 'stand-in' for the stand-in)")
    parser.add_argument("--phrase", metavar="WAV", help="a recording of singing to convert (the first "
                        f"{MAX_PHRASE_S:.0f} s; default: a synthetic sung phrase)")
    parser.add_argument("--settle", type=float, metavar="S",
                        help="seconds the engine runs before the measurement; its latency adapts to the measured "
                        "compute after a few seconds, so 30 shows the latency of a long run (default: just long "
                        "enough for its output to start)")
    parser.add_argument("--loopback-ms", type=float, metavar="MS",
                        help="the probe's own round trip, measured with --devices-only (needed off JACK)")
    parser.add_argument("--devices-only", action="store_true",
                        help="only the round trip through the devices (a cable or loopback from --output to --input)")
    parser.add_argument("--engine-in-process", action="store_true",
                        help="run the engine in this process, beside the probe, instead of in a process of its own "
                        "(for comparison: the two then share Python's GIL)")
    add_json_flag(parser)
    add_threads_flag(parser)
    parser.set_defaults(func=run)


class _FixedClock:
    """Just enough of a backend for the engine to compute its latency without a device."""

    def __init__(self, samplerate: int, blocksize: int) -> None:
        self.samplerate, self.blocksize, self.device_latency_ms = samplerate, blocksize, 0.0


def _check_options(args) -> None:
    from core.errors import UserError
    from realtime.device_query import check_device_block, check_samplerate

    if not 0 <= args.lead_in <= 60:
        raise UserError("--lead-in must be between 0 and 60 seconds")
    if args.settle is not None and not 0 <= args.settle <= 600:
        raise UserError(f"--settle must be between 0 and 600 seconds, got {args.settle:g}")
    if args.loopback_ms is not None and not 0 <= args.loopback_ms <= 1000:
        raise UserError(f"--loopback-ms must be between 0 and 1000 ms, got {args.loopback_ms:g}")
    if args.devices_only and (args.phrase or args.loopback_ms is not None or args.probe_input or args.probe_output
                              or args.settle is not None or args.engine_in_process):
        raise UserError("--devices-only measures the devices alone: --phrase, --loopback-ms, --probe-input, "
                        "--probe-output, --settle and --engine-in-process are for the measurement through the engine")
    check_device_block(args.device_block)
    check_samplerate(args.samplerate)


def _load_phrase(path: str, samplerate: int):
    import numpy as np

    from core.audio.io import load_audio
    from core.errors import UserError

    audio = load_audio(path, samplerate)[:int(MAX_PHRASE_S * samplerate)]
    if len(audio) < samplerate // 4:
        raise UserError(f"--phrase {path} is too short: give at least 0.25 s of singing")
    if float(np.max(np.abs(audio))) < MIN_PHRASE_PEAK:
        raise UserError(f"--phrase {path} is too quiet (peak below {20 * np.log10(MIN_PHRASE_PEAK):.0f} dBFS): "
                        "the gate would keep it out")
    return audio


def run(args) -> int:
    from realtime.device_query import check_devices
    from realtime.presets import load_preset

    _check_options(args)
    check_threads(args.threads)
    preset = load_preset(args.preset)
    phrase = None if args.devices_only or args.phrase is None else _load_phrase(args.phrase, args.samplerate)
    # a missing or refusing device is named before torch, the probe's signals and the model load (seconds)
    check_devices(args.input, args.output, args.samplerate)

    from realtime.latency_probe import check_rig
    from realtime.latency_probe_signals import synthetic_phrase

    use_threads(args.threads)  # here and in the engine's process, spawned from here: as `comosvc live` runs
    if args.devices_only:
        return _devices_only(args, preset)
    if phrase is None:
        phrase = synthetic_phrase(args.samplerate)
    probe_devices = (args.probe_input if args.probe_input is not None else args.input,
                     args.probe_output if args.probe_output is not None else args.output)
    check_devices(*probe_devices, args.samplerate)
    check_rig((args.input, args.output), probe_devices, args.loopback_ms)
    return _through_engine(args, preset, probe_devices, phrase)


def _through_engine(args, preset, probe_devices, phrase) -> int:
    from realtime.engine_spec import EngineSpec
    from realtime.latency_probe import measure_through_engine

    spec = EngineSpec(preset=preset, model=args.model or "", sample_rate=args.samplerate,
                      device_block=args.device_block, input_device=_device_name(args.input),
                      output_device=_device_name(args.output))
    result = measure_through_engine(spec, probe_devices, phrase, loopback_ms=args.loopback_ms,
                                    in_process=args.engine_in_process,
                                    **({} if args.settle is None else {"settle_s": args.settle}))
    if args.json:
        print_json(result)
    else:
        for line in describe(result):
            print(line)
    return 0 if result["signal_found"] else 1


def _device_name(device: str | None) -> str:
    """A device option as an EngineSpec holds it: "" for the system default."""
    return "" if device is None else str(device)


def describe(r: dict) -> list[str]:
    """The human report of measure_through_engine's figures."""
    where = "JACK, the probe's ports connected to each other" if r["jack"] else "given with --loopback-ms"
    lines = [f"loopback (probe output -> probe input, {where}): {r['loopback_round_trip_ms']:.1f} ms, "
             "subtracted from each figure below"]
    if not r["bypass_signal_found"]:
        lines.append("no clear chirp came back through the engine in bypass: is it connected?")
    lines.extend(_unclean(r, "bypass"))
    lines.append(f"engine in bypass, measured with chirps: {r['measured_bypass_latency_ms']:.1f} ms; the engine "
                 f"reports {r['engine_reported_latency_ms']:.1f} ms (measured {r['bypass_error_ms']:+.1f} ms from it)")
    if not r["converted_signal_found"]:
        lines.append("the converted phrase did not come back clearly (no output, or its loudness does not follow the "
                     "phrase): the figure below is doubtful")
    lines.extend(_unclean(r, "converted"))
    onset = r["converted_onset_latency_ms"]
    onset_text = f"; onset to onset {onset:.1f} ms" if onset is not None else ""
    lines.append("the engine ran in a process of its own, as `comosvc live` and `comosvc gui` run it" if
                 r["engine_own_process"] else "the engine ran in the probe's process (--engine-in-process): the two "
                 "shared Python's GIL, which can make it run late where it would not alone")
    lines.append(f"engine converting ({r['converter']}, preset {r['preset']}), measured on a sung phrase: "
                 f"{r['measured_converted_latency_ms']:.1f} ms (where the loudness rises, correlation "
                 f"{r['rises_correlation']:.2f}{onset_text})")
    if r["jack"]:
        lines.append(f"sound card, as JACK states it (capture + playback latency of the system ports the engine "
                     f"was connected to): {r['hardware_latency_ms']:.1f} ms, added, not measured")
    card = " + the sound card" if r["jack"] else ", the devices measured with it"
    lines.append(f"mic-to-ear (the converted figure{card}): {r['mic_to_ear_ms']:.1f} ms")
    lines.append(f"the status bar shows {r['status_bar_latency_ms']:.1f} ms "
                 f"({r['engine_reported_latency_ms']:.1f} engine "
                 f"+ {r['device_latency_ms']:.1f} device, as the backend states them); measured in bypass "
                 f"{r['measured_bypass_total_ms']:.1f} ms ({r['status_bar_error_ms']:+.1f} ms)")
    lines.append(f"xruns: {r['xruns']} (engine {r['engine_xruns']}, probe {r['probe_xruns']}); engine drops: "
                 f"{r['engine_drops']}")
    return lines


def _unclean(r: dict, take: str) -> list[str]:
    """A line when the engine dropped blocks or ran dry during every one of a take's tries."""
    if r[f"{take}_take_clean"]:
        return []
    return [f"the engine dropped {r[f'{take}_take_drops']} blocks and had {r[f'{take}_take_xruns']} xruns during the "
            f"{take} take (the last of {r[f'{take}_take_takes']}; the machine is too busy for this preset): the figure "
            "below is doubtful"]


def _devices_only(args, preset) -> int:
    from cli.commands.simulate import make_converter
    from realtime.engine import Engine
    from realtime.roundtrip import measure_round_trip

    converter = make_converter(args.model)
    engine = Engine(converter, preset, _FixedClock(args.samplerate, args.device_block))
    result = measure_round_trip(args.input, args.output, args.samplerate, args.device_block, lead_in_s=args.lead_in)
    result.update({"engine_latency_ms": engine.latency_ms, "preset": preset.name, "converter": converter.description,
                   "total_ms": result["round_trip_ms"] + engine.latency_ms})
    if args.json:
        print_json(result)
        return 0
    if not result["signal_found"]:
        print("no clear probe in the recording: is the output connected to the input?")
    print(f"round trip through the devices: {result['round_trip_ms']:.1f} ms ({result['round_trip_samples']} samples "
          f"at {args.samplerate} Hz; PortAudio reports {result['reported_device_latency_ms']:.1f} ms)")
    print(f"engine ({converter.description}, preset {preset.name}): {engine.latency_ms:.1f} ms (stated, not measured)")
    print(f"expected live total: {result['total_ms']:.1f} ms")
    return 0 if result["signal_found"] else 1
