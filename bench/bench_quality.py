"""Quality benchmark of a conversion model file: F0 fidelity, singer similarity, student vs teacher,
content leakage and end-to-end speed.

    .venv/bin/python bench/bench_quality.py --model M --sources FILE [FILE ...] --targets-dir CORPUS
        [--pitch 0] [--auto-transpose | --auto-octave] [--steps 1 teacher-50] [--churn S] [--max-seconds 6]
        [--dnsmos-levels -12 -6 0 6] [--dnsmos-shifts 0 5 10] [--json]

For each held-out source file, each singer of the model with a folder CORPUS/<singer>/*.wav, and
each --steps value, the source is converted (core.convert.convert_audio, the offline path) and:
- F0 fidelity (one extractor on both sides, --eval-f0, default CREPE tiny: DIO makes octave errors on
  real voices, e.g. 3 % of the ALSA sample's frames, which cost its FPC 0.2 though the conversion follows
  the melody; CREPE is neither the conversion's own tracker nor DIO, and its full model costs ~25 s
  per 6 s clip on one core, tiny ~1.5 s): intended F0 = source F0 shifted by
  --pitch (plus, with --auto-transpose, the whole semitones or octaves toward the target singer's median F0 that
  the conversion chose); on frames voiced in both: FPC = Pearson correlation of F0 in Hz (the paper's; not log),
  signed and absolute median error in cents, share of frames off by > 50 cents. Aggregates: FPC is
  the mean over pairs, the cents figures are pooled over all pairs' frames.
- Singer similarity (Resemblyzer): cosine of the output to the mean embedding of up to 5 of the
  target singer's own recordings, against the cosine of the source to the same target; the gain and
  the share of pairs where the output is closer than the source.
- Identity by distance: the same top-1 per band of semitones between the pitch the output sings
  (the source's median, shifted) and the singer's own median (from the model file; files without
  medians skip it): <= 5, 5-12, > 12. Compare with bench_identity_ceiling.py's bands.
- Student vs teacher: the figures per --steps value, relative difference to the reference (the first
  teacher-N value, else the last one given).
- Quality (DNSMOS P.835 SIG/BAK/OVRL, core.convert.listening) of each source and output, and the
  output's OVRL over its source's. With --dnsmos-levels and/or --dnsmos-shifts, also each clip's mean
  over those playback gains x leads of silence, sources and outputs alike: DNSMOS reads the level and
  where its frames fall (one clip moves by up to 0.4 between -12 and +6 dB, and by up to 0.5 when it
  starts 4 ms later), so a ratio over three sources can move with those alone.
- Content leakage: core.train.leakage's linear speaker-ID probe on the model's content code over the
  evaluated singers' recordings, with chance (most common singer's share of scored frames).
- Speed: end-to-end RTF = conversion wall time (F0, content, acoustic model, vocoder) / audio
  seconds, one warm-up conversion excluded, torch on --threads threads.
Files are cut to --max-seconds. Singers without a folder are skipped and listed. --churn sets the
teacher sampler's EDM churn for the teacher-N rows (default: the model's `edm.teacher_churn`; 0 is
the deterministic ODE, the sampler before session 17). --latent-scale sets the student's starting
noise, x sigma_max, for the consistency rows (default: the model's `edm.student_latent_scale`).
--singer-guidance sets the teacher-N rows' guidance toward the singer (core/model/guidance.py; default:
the model's `edm.singer_guidance`), for a teacher trained with `train.singer_dropout_prob` > 0.
--seed picks the samplers' noise (default 0, as `convert` and the live engine). Every pair of a run
shares one draw, since the noise is anchored to frames: to tell a model's figure from its draw,
run again with other seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.commands.convert import add_auto_transpose_flags  # noqa: E402
from cli.device_flag import add_device_flag, device_or_exit  # noqa: E402
from cli.output import run_report  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.features.pitch import PITCH_METHODS  # noqa: E402
from core.features.retrieval import RETRIEVAL_HELP  # noqa: E402

MAX_PROBE_CLIPS = 8
EVAL_F0_METHOD = "crepe"


def _cut(audio: np.ndarray, rate: int, max_seconds: float) -> np.ndarray:
    return audio[: int(max_seconds * rate)] if max_seconds and max_seconds > 0 else audio


def _track(extractor, audio: np.ndarray, hop: int):
    return extractor.extract(audio, len(audio) // hop)


def _leakage(model, target_audio: dict[str, list[np.ndarray]], rate: int) -> dict:
    """Speaker-ID probe on the content code; singers with one recording have it split in halves."""
    from core.train.leakage import probe_encoder

    clips, speakers = [], []
    for singer, audios in target_audio.items():
        pieces = list(audios)
        if len(pieces) == 1:
            half = len(pieces[0]) // 2
            pieces = [pieces[0][:half], pieces[0][half:]]
        pieces = [p for p in pieces if len(p) >= rate // 4][:MAX_PROBE_CLIPS]
        if len(pieces) >= 2:
            clips += pieces
            speakers += [singer] * len(pieces)
    if len(set(speakers)) < 2:
        return {"accuracy": None, "chance": None, "note": "needs recordings of at least 2 singers"}
    result = probe_encoder(model.content_encoder, clips, speakers, model.hop_length).to_dict()
    result["clips"] = len(clips)
    return result


def _mel_judge(cache: str, cfg, singers: list[str], steps: int):
    """audio -> the singer a mel classifier trained on the model's cache names (core/train/singer_loss.py).

    A second judge beside Resemblyzer: it learnt each singer from their own clips AND their range copies
    (re-sung up to 12 semitones away), so it hears timbre across pitch, where Resemblyzer hears a voice far
    from its range as another. It knows the training data, so it is a diagnostic, not a held-out judge.
    """
    import torch

    from core.audio.mel import MelSpectrogram, normalize
    from core.train.singer_loss import train_singer_classifier
    from core.train.teacher import crop_frames, load_training_data

    if steps < 1:
        raise UserError(f"--mel-judge-steps must be at least 1, got {steps}")
    train, val = load_training_data(cache, cfg)
    if train.singers.names != list(singers):
        raise UserError(f"--mel-judge {cache} holds singers {', '.join(train.singers.names)}; the model has "
                        f"{', '.join(singers)}: give the model's own preprocess cache")
    classifier, _ = train_singer_classifier(train, val, cfg, crop_frames(cfg), steps, 0, torch.device("cpu"),
                                            log=lambda m: None)
    mel = MelSpectrogram(cfg.audio)
    names = train.singers.names

    def judge(audio: np.ndarray) -> str:
        with torch.no_grad():
            log_mel = mel(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))[None]
            logits = classifier(normalize(log_mel, cfg.audio), torch.ones(1, log_mel.shape[-1]))
        return names[int(logits.argmax())]

    return judge


def evaluate(args) -> dict:
    import torch

    from core.audio.io import load_audio
    from core.convert import VoiceModel, convert_audio, parse_steps
    from core.convert import evaluate as ev
    from core.convert import listening
    from core.convert.offline import range_distance_semitones
    from core.sampling_settings import check_latent_scale, check_singer_guidance, check_teacher_churn
    from core.features.pitch import get_pitch_extractor, shift_f0

    torch.set_num_threads(max(1, int(args.threads)))
    for steps in args.steps:
        parse_steps(steps)  # a clear error before any work
    if args.churn is not None:
        check_teacher_churn(args.churn)
    if args.latent_scale is not None:
        check_latent_scale(args.latent_scale)
    if args.singer_guidance is not None:
        check_singer_guidance(args.singer_guidance)
    model = VoiceModel.load(args.model, args.device)
    if args.churn is not None:
        model.set_teacher_churn(args.churn)
    if args.singer_guidance is not None:
        model.set_singer_guidance(args.singer_guidance)
    if args.latent_scale is not None:
        model.set_student_latent_scale(args.latent_scale)
    rate, hop = model.sample_rate, model.hop_length
    targets_dir = Path(args.targets_dir)
    if not targets_dir.is_dir():
        raise UserError(f"targets folder not found: {targets_dir}")
    notes: list[str] = []
    singers, missing = [], []
    for singer in model.singers.names:
        folder = targets_dir / singer
        if folder.is_dir() and listening.singer_recordings(folder):
            singers.append(singer)
        else:
            missing.append(singer)
            notes.append(f"singer '{singer}' skipped: no {folder}/*.wav")
    if not singers:
        raise UserError(f"no singer of the model has recordings in {targets_dir} (looked for {', '.join(missing)})")

    extractor = get_pitch_extractor(args.eval_f0, sample_rate=rate, hop_length=hop,
                                    f0_floor=model.config.features.f0_floor, f0_ceil=model.config.features.f0_ceil)
    embedder = ev.SpeakerEmbedder()
    judge_steps = model.config.train.singer_classifier_steps if args.mel_judge_steps is None else args.mel_judge_steps
    mel_judge = _mel_judge(args.mel_judge, model.config, model.singers.names, judge_steps) if args.mel_judge else None

    target_audio = {s: [_cut(load_audio(p, rate), rate, args.max_seconds) for p in listening.singer_recordings(targets_dir / s)[:MAX_PROBE_CLIPS]]
                    for s in singers}
    target_embedding = {s: listening.singer_centroid(embedder, target_audio[s], rate) for s in singers}

    sources = []
    for path in args.sources:
        audio = _cut(load_audio(path, rate), rate, args.max_seconds)
        audio = audio[: len(audio) - len(audio) % hop]
        if len(audio) == 0 or float(np.max(np.abs(audio))) < 1e-4:
            notes.append(f"source {path} skipped: silent or shorter than one frame")
            continue
        track = _track(extractor, audio, hop)
        voiced_f0 = track.f0[track.voiced & (track.f0 > 0)]
        sources.append({"path": str(path), "audio": audio, "f0_raw": track.f0, "voiced": track.voiced,
                        "median_hz": float(np.median(voiced_f0)) if len(voiced_f0) else None,
                        "embedding": embedder.embed(audio, rate),
                        "dnsmos": listening.dnsmos(audio, rate) if args.dnsmos else None,
                        "dnsmos_averaged": _averaged(listening, audio, rate, args)})
    if not sources:
        raise UserError("no usable source file")

    pairs, by_steps = [], {}
    for steps in args.steps:
        warm = sources[0]["audio"][: min(len(sources[0]["audio"]), rate)]
        convert_audio(model, warm, rate, singers[0], pitch=args.pitch, steps=steps,
                      auto_transpose=args.auto_transpose, retrieval=args.retrieval, seed=args.seed)  # warm-up
        rows, cents, taken, seconds = [], [], 0.0, 0.0
        identified, outputs_by_source, by_distance = [], {}, []
        for source in sources:
            for singer in singers:
                out, _, report = convert_audio(model, source["audio"], rate, singer, pitch=args.pitch, steps=steps,
                                               auto_transpose=args.auto_transpose, retrieval=args.retrieval,
                                               seed=args.seed)
                taken += report.seconds_taken
                seconds += report.input_seconds
                shift = args.pitch + (report.auto_transpose_semitones or 0.0)
                intended = shift_f0(source["f0_raw"], shift)  # the source's F0 moved as the conversion moved it
                out_track = _track(extractor, out, hop)
                fid = ev.f0_fidelity(intended, source["voiced"], out_track.f0, out_track.voiced)
                cents.append(ev.cents_of(intended, source["voiced"], out_track.f0, out_track.voiced))
                src_cos = ev.cosine(source["embedding"], target_embedding[singer])
                out_embedding = embedder.embed(out, rate)
                out_cos = ev.cosine(out_embedding, target_embedding[singer])
                identified.append((singer, out_embedding))
                distance = range_distance_semitones(source["median_hz"], shift, model.singer_median(singer))
                if distance is not None:
                    by_distance.append((singer, out_embedding, distance))
                outputs_by_source.setdefault(source["path"], {})[singer] = out_embedding
                quality = _dnsmos_or_none(listening, out, rate) if args.dnsmos else None
                quality_averaged = _averaged(listening, out, rate, args)
                rows.append({"source": source["path"], "singer": singer, "steps": steps, "shift": shift,
                             "range_distance": distance,
                             "seconds": report.input_seconds,
                             "rtf": report.real_time_factor, **fid, "source_cosine": src_cos,
                             "output_cosine": out_cos, "cosine_gain": out_cos - src_cos,
                             "nearest_singer": listening.singer_ranks(out_embedding, target_embedding)[0],
                             "dnsmos": quality,
                             "dnsmos_ratio": _ratio(quality, source["dnsmos"]),
                             "dnsmos_averaged": quality_averaged,
                             "dnsmos_averaged_ratio": _ratio(quality_averaged, source["dnsmos_averaged"])})
                if mel_judge is not None:
                    rows[-1]["mel_judge_singer"] = mel_judge(out)
        pairs += rows
        by_steps[steps] = {
            "pairs": len(rows),
            "fpc_mean": ev.mean_or_none([r["fpc"] for r in rows]),
            **ev.cents_summary(cents),
            "voiced_recall_mean": ev.mean_or_none([r["voiced_recall"] for r in rows]),
            "source_cosine_mean": ev.mean_or_none([r["source_cosine"] for r in rows]),
            "output_cosine_mean": ev.mean_or_none([r["output_cosine"] for r in rows]),
            "cosine_gain_mean": ev.mean_or_none([r["cosine_gain"] for r in rows]),
            "closer_share": float(np.mean([r["output_cosine"] > r["source_cosine"] for r in rows])),
            "rtf": taken / max(seconds, 1e-9),
            "audio_seconds": seconds,
            **_dnsmos_means(rows),
            "singer_id": listening.singer_identification(identified, target_embedding),
            "singer_id_by_distance": listening.identification_by_distance(by_distance, target_embedding),
            "spread": listening.spread(outputs_by_source, target_embedding),
        }
        if mel_judge is not None:
            by_steps[steps]["mel_judge_top1"] = float(np.mean([r["mel_judge_singer"] == r["singer"] for r in rows]))

    reference = next((s for s in args.steps if str(s).startswith("teacher")), args.steps[-1])
    compared = ("fpc_mean", "cents_abs_median", "off_50c_share", "output_cosine_mean", "cosine_gain_mean",
                "closer_share", "dnsmos_ovrl_mean", "singer_top1", "rtf")
    for summary in by_steps.values():
        summary["singer_top1"] = summary["singer_id"]["top1"]
    relative = {s: {k: ev.relative_difference(by_steps[s][k], by_steps[reference][k]) for k in compared}
                for s in args.steps if s != reference}

    return {
        "model": model.path, "sources": [s["path"] for s in sources], "targets_dir": str(targets_dir),
        "pitch": float(args.pitch), "auto_transpose": bool(args.auto_transpose),
        "auto_transpose_mode": args.auto_transpose, "steps": list(args.steps), "max_seconds": args.max_seconds,
        "threads": int(args.threads), "f0_method": args.eval_f0, "fpc_scale": "hz",
        "teacher_churn": model.teacher.schedule.teacher_churn if model.teacher is not None else None,
        "singer_guidance": model.teacher.schedule.singer_guidance if model.teacher is not None else None,
        "student_latent_scale": model.generator.schedule.student_latent_scale, "seed": args.seed,
        "singers": singers, "missing_singers": missing, "notes": notes,
        "pairs": pairs, "by_steps": by_steps,
        "source_dnsmos": {s["path"]: s["dnsmos"] for s in sources},
        "source_dnsmos_ovrl_mean": ev.mean_or_none([s["dnsmos"]["ovrl"] for s in sources if s["dnsmos"]]),
        "dnsmos_presentations": _presentations(args),
        "source_dnsmos_averaged": {s["path"]: s["dnsmos_averaged"] for s in sources},
        "student_vs_teacher": {"reference": reference, "relative_difference": relative},
        "leakage": _leakage(model, target_audio, rate),
    }


def _dnsmos_or_none(listening, audio: np.ndarray, rate: int) -> dict | None:
    try:
        return listening.dnsmos(audio, rate)
    except ValueError:  # a silent output has no DNSMOS; the table shows "-"
        return None


def _presentations(args) -> dict | None:
    """The gains and leads of silence each clip is scored at with --dnsmos-levels / --dnsmos-shifts."""
    if not args.dnsmos or not (args.dnsmos_levels or args.dnsmos_shifts):
        return None
    return {"gains_db": args.dnsmos_levels or [0.0], "shifts_ms": args.dnsmos_shifts or [0.0]}


def _averaged(listening, audio: np.ndarray, rate: int, args) -> dict | None:
    """DNSMOS averaged over those presentations, or None when not asked for."""
    presentations = _presentations(args)
    if presentations is None:
        return None
    try:
        return listening.dnsmos_averaged(audio, rate, presentations["gains_db"], presentations["shifts_ms"])
    except ValueError:
        return None


def _ratio(output: dict | None, source: dict | None) -> float | None:
    if not output or not source or source["ovrl"] <= 0:
        return None
    return output["ovrl"] / source["ovrl"]


def _dnsmos_means(rows: list[dict]) -> dict:
    from core.convert.evaluate import mean_or_none

    scored = [r["dnsmos"] for r in rows if r["dnsmos"]]
    means = {f"dnsmos_{k}_mean": mean_or_none([d[k] for d in scored]) for k in ("sig", "bak", "ovrl")}
    means["dnsmos_ratio_mean"] = mean_or_none([r["dnsmos_ratio"] for r in rows])
    if any(r["dnsmos_averaged"] for r in rows):
        means["dnsmos_averaged_ovrl_mean"] = mean_or_none([r["dnsmos_averaged"]["ovrl"] for r in rows
                                                           if r["dnsmos_averaged"]])
        means["dnsmos_averaged_ratio_mean"] = mean_or_none([r["dnsmos_averaged_ratio"] for r in rows])
    return means


def _fmt(value, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def print_table(result: dict) -> None:
    auto = f" + auto-transpose by {result.get('auto_transpose_mode') or 'semitones'}" if result.get("auto_transpose") else ""
    print(f"model {result['model']}  pitch {result['pitch']:+g} st{auto}  F0 by {result['f0_method']} (FPC on Hz)  "
          f"max {result['max_seconds']:g} s per file")
    for note in result["notes"]:
        print(f"  note: {note}")
    print("  voiced: share of the source's voiced frames voiced in the output; FPC and cents on frames voiced in both")
    print(f"{'source':28s} {'singer':10s} {'steps':11s} {'voiced':>6s} {'FPC':>6s} {'|c|med':>7s} {'>50c':>5s} "
          f"{'src cos':>7s} {'out cos':>7s} {'gain':>6s} {'RTF':>6s}")
    for r in result["pairs"]:
        print(f"{Path(r['source']).name[:28]:28s} {r['singer'][:10]:10s} {r['steps']:11s} {_fmt(r['voiced_recall'], '.2f'):>6s} "
              f"{_fmt(r['fpc']):>6s} "
              f"{_fmt(r['cents_abs_median'], '.1f'):>7s} {_fmt(r['off_50c_share'], '.2f'):>5s} "
              f"{_fmt(r['source_cosine']):>7s} {_fmt(r['output_cosine']):>7s} {_fmt(r['cosine_gain'], '+.3f'):>6s} "
              f"{_fmt(r['rtf']):>6s}")
    print()
    if result.get("source_dnsmos_ovrl_mean") is not None:
        print(f"sources: DNSMOS OVRL {_fmt(result['source_dnsmos_ovrl_mean'], '.2f')}")
    print(f"{'steps':11s} {'pairs':>5s} {'voiced':>6s} {'FPC':>6s} {'|c|med':>7s} {'>50c':>5s} {'src cos':>7s} {'out cos':>7s} "
          f"{'gain':>6s} {'closer':>6s} {'SIG':>5s} {'BAK':>5s} {'OVRL':>5s} {'/src':>5s} {'top1':>5s} {'rank':>5s} "
          f"{'spread':>11s} {'RTF':>6s}")
    for steps, s in result["by_steps"].items():
        print(f"{steps:11s} {s['pairs']:5d} {_fmt(s['voiced_recall_mean'], '.2f'):>6s} {_fmt(s['fpc_mean']):>6s} {_fmt(s['cents_abs_median'], '.1f'):>7s} "
              f"{_fmt(s['off_50c_share'], '.2f'):>5s} {_fmt(s['source_cosine_mean']):>7s} "
              f"{_fmt(s['output_cosine_mean']):>7s} {_fmt(s['cosine_gain_mean'], '+.3f'):>6s} "
              f"{_fmt(s['closer_share'], '.2f'):>6s} {_fmt(s['dnsmos_sig_mean'], '.2f'):>5s} "
              f"{_fmt(s['dnsmos_bak_mean'], '.2f'):>5s} {_fmt(s['dnsmos_ovrl_mean'], '.2f'):>5s} "
              f"{_fmt(s['dnsmos_ratio_mean'], '.2f'):>5s} {_fmt(s['singer_id']['top1'], '.2f'):>5s} "
              f"{_fmt(s['singer_id']['mean_rank'], '.1f'):>5s} "
              f"{_fmt(s['spread']['outputs_cosine'], '.2f'):>5s}/{_fmt(s['spread']['singers_cosine'], '.2f'):>5s} "
              f"{_fmt(s['rtf']):>6s}")
    ident = next(iter(result["by_steps"].values()))["singer_id"]
    print(f"  top1: share of outputs whose nearest singer centroid is the asked-for one (chance {_fmt(ident['chance'], '.3f')}, "
          f"chance mean rank {_fmt(ident.get('chance_mean_rank'), '.1f')}); spread: mean cosine between one source's outputs "
          f"for different singers / between the singers' own centroids; /src: output OVRL / source OVRL")
    for steps, s in result["by_steps"].items():
        bands = s.get("singer_id_by_distance") or {}
        if bands:
            print(f"{steps}: top1 by semitones from the singer's own median pitch: " + ", ".join(
                f"{band} {_fmt(b['top1'], '.2f')} (n {b['n']})" for band, b in bands.items()))
        if s.get("dnsmos_averaged_ovrl_mean") is not None:
            shown = result["dnsmos_presentations"]
            gains = ", ".join(f"{g:+g}" for g in shown["gains_db"])
            shifts = ", ".join(f"{m:g}" for m in shown["shifts_ms"])
            print(f"{steps}: DNSMOS OVRL averaged over gains {gains} dB x leads {shifts} ms: "
                  f"{_fmt(s['dnsmos_averaged_ovrl_mean'], '.3f')}, {_fmt(s['dnsmos_averaged_ratio_mean'], '.3f')} x the "
                  "sources' own (averaged the same way)")
        if "mel_judge_top1" in s:
            print(f"{steps}: the mel judge (a classifier of the model's cache) names the asked-for singer in "
                  f"{_fmt(s['mel_judge_top1'], '.2f')}")
    svt = result["student_vs_teacher"]
    for steps, rel in svt["relative_difference"].items():
        parts = ", ".join(f"{k} {_fmt(v, '+.1%')}" for k, v in rel.items())
        print(f"{steps} vs {svt['reference']} (relative): {parts}")
    leak = result["leakage"]
    if leak.get("accuracy") is None:
        print(f"content leakage: not measured ({leak.get('note')})")
    else:
        print(f"content leakage: speaker-ID probe accuracy {leak['accuracy']:.3f} (chance {leak['chance']:.3f}; "
              f"per clip {leak['clip_accuracy']:.3f}) over {leak['n_speakers']} singers, {leak['clips']} clips")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file or name (default: the default model)")
    parser.add_argument("--sources", nargs="+", required=True, help="held-out source recordings")
    parser.add_argument("--targets-dir", required=True, help="corpus folder with <singer>/*.wav")
    parser.add_argument("--pitch", type=float, default=0.0, help="transpose in semitones")
    add_auto_transpose_flags(parser)  # as `comosvc convert`
    parser.add_argument("--steps", nargs="+", default=["1", "teacher-50"])
    parser.add_argument("--retrieval", type=float, default=0.0, help=RETRIEVAL_HELP)
    parser.add_argument("--churn", type=float, default=None,
                        help="EDM churn of the teacher's sampler (default: the model's own; 0 = the ODE)")
    parser.add_argument("--singer-guidance", type=float, default=None,
                        help="the teacher-N rows' singer guidance (default: the model's own edm.singer_guidance; "
                             "0 = none; a teacher trained with train.singer_dropout_prob)")
    parser.add_argument("--latent-scale", type=float, default=None,
                        help="the student's starting noise x sigma_max (default: the model's own; 1 = the paper)")
    parser.add_argument("--seed", type=int, default=0, help="the samplers' noise (default 0, as convert)")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="cut every file to this length (0: no cut)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--no-dnsmos", dest="dnsmos", action="store_false",
                        help="skip DNSMOS (it needs the dev extras speechmos + onnxruntime)")
    parser.add_argument("--dnsmos-levels", nargs="+", type=float, metavar="DB", default=None,
                        help="also score DNSMOS averaged over these playback gains, sources and outputs alike "
                             "(e.g. -12 -6 0 6; DNSMOS reads the level, so one clip's score moves with it)")
    parser.add_argument("--dnsmos-shifts", nargs="+", type=float, metavar="MS", default=None,
                        help="... and over these leads of silence before each clip (e.g. 0 5 10; where DNSMOS's "
                             "frames fall moves a clip's score by up to 0.5)")
    parser.add_argument("--eval-f0", default=EVAL_F0_METHOD, choices=PITCH_METHODS,
                        help=f"pitch tracker that judges F0 fidelity on source and output (default {EVAL_F0_METHOD})")
    parser.add_argument("--mel-judge", metavar="CACHE", default=None,
                        help="also name each output's singer with a mel classifier trained on CACHE, the model's "
                             "preprocess cache (pitch-invariant through its range copies; it knows the training "
                             "data, so a diagnostic; default: off)")
    parser.add_argument("--mel-judge-steps", type=int, default=None,
                        help="training steps of that classifier (default: the model config's "
                             "train.singer_classifier_steps)")
    add_device_flag(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    device_or_exit(parser, args.device)
    return run_report(evaluate, args, print_table)


if __name__ == "__main__":
    sys.exit(main())
