"""`comosvc simulate IN.wav`: the live engine against a virtual device clock, with a report."""

from __future__ import annotations

from cli.device_flag import add_device_flag
from cli.threads_flag import add_threads_flag, use_threads
from cli.output import add_json_flag, print_json
from core.errors import UserError


def register(subparsers) -> None:
    from core.audio.peak import PEAK_HELP
    from core.features.pitch_settings import LIVE_AUTO_OCTAVE_HELP, PITCH_SHIFT_HELP
    from core.features.retrieval_settings import RETRIEVAL_HELP
    from core.sampling_settings import LATENT_SCALE_HELP

    parser = subparsers.add_parser(
        "simulate",
        help="run the live engine on a file against a virtual device clock and report timing and quality",
        description="Stream IN through the same engine as 'comosvc live', against a simulated device "
        "(optional callback jitter and injected worker stalls), write what the device would have played, "
        "and report per-block compute p50/p99/max, latency, xruns and the distance to converting the "
        "whole file offline. Without --model it uses the default model, or where there is none the stand-in converter "
        "(no model loaded): WORLD re-synthesis with the pitch shift and a formant change per singer.",
    )
    parser.add_argument("input", help="audio file to stream")
    parser.add_argument("--preset", default="balanced", help="preset name or YAML/JSON file (default: balanced)")
    parser.add_argument("--output", "-o", help=f"write the played output here (WAV at the device rate; {PEAK_HELP})")
    parser.add_argument("--model", help="model file or name (default: the default model; the WORLD stand-in where there is none)")
    parser.add_argument("--singer", help="target singer name")
    parser.add_argument("--pitch", type=float, default=0.0, help=f"{PITCH_SHIFT_HELP} (default 0)")
    parser.add_argument("--f0-method", help="F0 method: dio, harvest, fcpe, crepe, crepe-full (the stand-in: dio or harvest)")
    parser.add_argument("--retrieval", type=float, default=0.0, help=RETRIEVAL_HELP)
    parser.add_argument("--latent-scale", type=float, default=None, help=LATENT_SCALE_HELP)
    parser.add_argument("--auto-octave", action="store_true", help=LIVE_AUTO_OCTAVE_HELP)
    parser.add_argument("--samplerate", type=int, default=48000, help="simulated device rate (default 48000)")
    parser.add_argument("--device-block", type=int, default=256, help="simulated device period in samples")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="MS", help="callback jitter, up to MS late")
    parser.add_argument("--stall", action="append", default=[], metavar="MS@SECONDS",
                        help="make the worker stall MS milliseconds at SECONDS (repeatable)")
    parser.add_argument("--slow-start", metavar="MS@SECONDS",
                        help="a CPU busy at start-up: the warm-up and every block before SECONDS take MS longer "
                        "(the adaptive latency should come down afterwards)")
    add_device_flag(parser)
    add_threads_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def make_converter(model: str | None, device: str | None = None, latent_scale: float | None = None):
    """The converter for live commands (see realtime.model_converter.make_converter), its student
    sampling at `latent_scale` where one is given (the model's own otherwise)."""
    from core.sampling_settings import no_student_error
    from realtime.model_converter import make_converter as realtime_make_converter

    converter = realtime_make_converter(model, device)
    if latent_scale is not None:
        voice_model = getattr(converter, "model", None)
        if voice_model is None:
            raise no_student_error(converter.description)
        voice_model.set_student_latent_scale(latent_scale)
    return converter


def controls_from_args(args) -> dict:
    controls = {"pitch": args.pitch}
    if args.singer:
        controls["singer"] = args.singer
    if getattr(args, "f0_method", None):
        controls["f0_method"] = args.f0_method
    if args.retrieval:
        controls["retrieval"] = args.retrieval
    if getattr(args, "auto_octave", False):
        controls["auto_transpose"] = True
    return controls


def run(args) -> int:
    from core.audio.io import check_output_file, load_audio, require_min_length, save_audio
    from core.audio.peak import fit_below_full_scale, peak_note
    from core.features.pitch_settings import check_pitch_shift
    from core.features.retrieval_settings import check_retrieval_ratio
    from core.sampling_settings import check_latent_scale
    from realtime.offline import COMPARE_MIN_S, COMPARE_SKIP_S
    from realtime.presets import load_preset
    from realtime.simulate import simulate
    from realtime.simulator import parse_stall

    if args.samplerate < 8000 or args.samplerate > 192000:
        raise UserError("--samplerate must be between 8000 and 192000")
    if args.device_block < 16 or args.device_block > 8192:
        raise UserError("--device-block must be between 16 and 8192 samples")
    if args.jitter < 0:
        raise UserError("--jitter must not be negative")
    check_pitch_shift(args.pitch)
    check_retrieval_ratio(args.retrieval)
    if args.latent_scale is not None:
        check_latent_scale(args.latent_scale)
    if args.output:
        check_output_file(args.output, "-o")  # before the run, not after it
    preset = load_preset(args.preset)
    stalls = [parse_stall(s) for s in args.stall]
    use_threads(args.threads)
    slow_start = parse_stall(args.slow_start, "slow start") if args.slow_start else None
    audio = load_audio(args.input, args.samplerate)
    require_min_length(audio, args.samplerate, args.input)
    converter = make_converter(args.model, args.device, args.latent_scale)
    engines = []
    report, played = simulate(converter, preset, audio, args.samplerate, args.device_block, args.jitter, stalls,
                              compare=True, controls=controls_from_args(args), slow_start=slow_start,
                              on_engine=engines.append)
    # the engine's advice where the preset's blocks cannot be converted in time on this machine
    notes = [engines[0].too_slow_advice] if engines[0].too_slow_advice else []
    if report.offline_logmel_distance is None:
        needs = COMPARE_SKIP_S + COMPARE_MIN_S
        notes.append(f"not compared with offline conversion: the file is shorter than the latency + {needs:g} s")
    if args.output:
        played, gain_db = fit_below_full_scale(played)
        if gain_db:
            notes.append(peak_note(gain_db))
        save_audio(args.output, played, args.samplerate)
    if args.json:
        print_json({**report.to_dict(), "notes": notes})
        return 0
    r = report
    print(f"{r.converter}; preset {r.preset}: block {r.block_ms:.1f} ms, latency {r.latency_ms:.1f} ms "
          f"(device {r.device_rate} Hz, period {r.device_block})")
    print(f"compute per block: p50 {r.compute_p50_ms:.2f} ms, p99 {r.compute_p99_ms:.2f} ms, "
          f"max {r.compute_max_ms:.2f} ms ({100 * r.compute_p99_fraction:.0f} % of the block at p99)")
    print(f"xruns {r.xruns}, dropped blocks {r.drops}, blocks {r.blocks}")
    if r.latency_changes:
        steps = ", ".join(f"{c['reason']} to {c['latency_ms']:.1f} ms at {c['at_s']:.1f} s" for c in r.latency_changes)
        print(f"latency started at {r.initial_latency_ms:.1f} ms, then {steps}")
    if r.offline_logmel_distance is not None:
        print(f"vs offline conversion (after 1 s): log-mel L1 {r.offline_logmel_distance:.3f}, "
              f"best extra lag {r.offline_lag_samples} samples at 24 kHz, correlation {r.offline_correlation:.2f}")
    for note in notes:
        print(note)
    if args.output:
        print(f"wrote {args.output}")
    return 0
