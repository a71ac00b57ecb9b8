"""`comosvc vocode IN --out OUT [--vocoder NAME]`: analysis-resynthesis of a recording.

mel + f0 of the input, straight into a vocoder: what a vocoder alone does to a
voice, for listening checks and for comparing vocoders (figures with --json).
"""

from __future__ import annotations

import argparse
import time


def register(subparsers) -> None:
    from cli.device_flag import add_device_flag
    from cli.output import add_json_flag
    from core.audio.peak import PEAK_HELP
    from core.vocoder.registry import VOCODER_NAMES

    parser = subparsers.add_parser(
        "vocode",
        help="resynthesise a recording through a vocoder (mel + f0 -> audio) for listening checks",
        description=(
            "Analyse IN (log10 mel and f0) and resynthesise it with a vocoder. Reports the time taken "
            "(real-time factor), the log-mel L1 distance between input and output and the output's F0 "
            f"error in cents. --vocoder: one of {', '.join(VOCODER_NAMES)} or a vocoder/model file."
        ),
    )
    parser.add_argument("input", help="audio file to resynthesise")
    parser.add_argument("--out", required=True, help=f"output audio file (written atomically; {PEAK_HELP})")
    parser.add_argument("--vocoder", default=None,
                        help="builtin | nsf-hifigan | griffin-lim | FILE (default: the default model's vocoder)")
    parser.add_argument("--config", default="paper", help="config whose audio front end and pitch range to use")
    parser.add_argument("--f0", default="dio", help="pitch method: dio, harvest, crepe, crepe-full, fcpe (default dio)")
    parser.add_argument("--bridge", action="store_true",
                        help="analyse with the config's front end and convert its mel to the vocoder's "
                             "(e.g. the 44.1 kHz NSF-HiFiGAN from a 24 kHz model's mel), instead of the vocoder's own")
    parser.add_argument("--key", type=float, default=0.0, help="transpose the f0 by this many semitones")
    add_device_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from cli.output import print_json
    from core.audio.io import check_output_file, load_audio, require_min_length, save_audio
    from core.audio.peak import fit_below_full_scale, peak_note
    from core.audio.mel import MelSpectrogram
    from core.config import load_config
    from core.device import resolve_device
    from core.errors import UserError
    from core.features.pitch import pitch_extractor_from_config, shift_f0
    from core.vocoder.evaluate import analyse, score_resynthesis
    from core.vocoder.registry import load_vocoder, vocoder_for_front_end

    check_output_file(args.out)  # before any work
    config = load_config(args.config)
    device = resolve_device(args.device)
    vocoder = load_vocoder(args.vocoder or _default_vocoder(), config.audio)
    if args.bridge:
        vocoder = vocoder_for_front_end(vocoder, config.audio)
    vocoder.to(device)
    front = vocoder.front_end() if hasattr(vocoder, "front_end") else config.audio
    if (front.sample_rate, front.hop_length, front.n_mels) != (vocoder.sample_rate, vocoder.hop_length, vocoder.n_mels):
        raise UserError(f"config '{args.config}' front end does not fit the {vocoder.name} vocoder "
                        f"({vocoder.sample_rate} Hz, hop {vocoder.hop_length}, {vocoder.n_mels} mels)")
    audio = load_audio(args.input, front.sample_rate)
    require_min_length(audio, front.sample_rate, args.input)
    mel = MelSpectrogram(front)
    pitch = pitch_extractor_from_config(config.features, front, args.f0)
    ref = analyse(audio, mel, pitch, front.hop_length)
    f0 = shift_f0(ref.f0, args.key) if args.key else ref.f0
    started = time.perf_counter()
    out = vocoder.synthesize(ref.log_mel, torch.from_numpy(f0)).cpu().numpy()
    seconds = time.perf_counter() - started
    playable, gain_db = fit_below_full_scale(out)
    save_audio(args.out, playable, front.sample_rate)
    report = {"input": args.input, "out": args.out, "vocoder": vocoder.name, "seconds_audio": len(out) / front.sample_rate,
              "rtf": seconds / max(len(out) / front.sample_rate, 1e-9)}
    if not args.key:
        report.update(score_resynthesis([(ref, out)], front, mel, pitch).as_dict())
    if gain_db:
        report["note"] = peak_note(gain_db)
    if args.json:
        print_json(report)
    else:
        for key, value in report.items():
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def _default_vocoder() -> str:
    """The shipped default model's vocoder (it carries one); 'builtin' where that model is absent."""
    from core.models import default_model_path

    default = default_model_path()
    return str(default) if default is not None else "builtin"
