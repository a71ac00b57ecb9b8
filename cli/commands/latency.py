"""`comosvc latency`: measure the real round trip through the devices and compare with the engine's own."""

from __future__ import annotations

from cli.output import add_json_flag, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "latency",
        help="measure the device round trip with a chirp (needs a cable or loopback) next to the engine latency",
        description="Play short chirps on the output, record the input (connect them with a cable or a "
        "loopback), cross-correlate, and print the measured round trip next to the engine's algorithmic "
        "latency for the preset; their sum is what a singer hears. The engine figure is for the chosen "
        "model (default: the default model, or the stand-in converter where there is none).",
    )
    parser.add_argument("--input", help="input device (index or part of its name; default: the system default)")
    parser.add_argument("--output", help="output device (index or part of its name; default: the system default)")
    parser.add_argument("--samplerate", type=int, default=48000, help="device rate (default 48000)")
    parser.add_argument("--device-block", type=int, default=256, help="device buffer in samples (default 256)")
    parser.add_argument("--lead-in", type=float, default=0.5, metavar="S",
                        help="seconds of silence before the probe, e.g. to make connections (default 0.5)")
    parser.add_argument("--preset", default="balanced", help="preset for the engine latency (default: balanced)")
    parser.add_argument("--model", help="model file or name (default: the default model; the WORLD stand-in where there is none)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


class _FixedClock:
    """Just enough of a backend for the engine to compute its latency without a device."""

    def __init__(self, samplerate: int, blocksize: int) -> None:
        self.samplerate, self.blocksize, self.device_latency_ms = samplerate, blocksize, 0.0


def run(args) -> int:
    from cli.commands.simulate import make_converter
    from realtime.engine import Engine
    from realtime.presets import load_preset
    from core.errors import UserError
    from realtime.device_query import check_device_block, check_devices, check_samplerate
    from realtime.roundtrip import measure_round_trip

    if not 0 <= args.lead_in <= 60:
        raise UserError("--lead-in must be between 0 and 60 seconds")
    check_device_block(args.device_block)
    check_samplerate(args.samplerate)
    preset = load_preset(args.preset)
    check_devices(args.input, args.output, args.samplerate)  # a missing or refusing device before the model loads
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
    print(f"engine ({converter.description}, preset {preset.name}): {engine.latency_ms:.1f} ms")
    print(f"expected live total: {result['total_ms']:.1f} ms")
    return 0 if result["signal_found"] else 1
