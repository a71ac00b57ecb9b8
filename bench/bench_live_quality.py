"""What the live engine plays, as a listener would judge it: DNSMOS of `comosvc simulate` output.

    .venv/bin/python bench/bench_live_quality.py --sources VOICE.wav [...] --singers NAME [...]
        [--presets balanced low-latency FILE.json ...] [--model FILE] [--json]

Each source is streamed through `comosvc simulate SOURCE --preset P --singer S -o OUT --json`,
one fresh process per conversion, as a user runs it. Reported per preset, over all
source x singer pairs: DNSMOS OVRL of OUT as a ratio to the source's (speechmos, a dev extra;
issue #13 asks for >= 0.85 with `balanced`), its mean and minimum, with the per-source means;
and from simulate's own report the median compute p99, the total xruns and the median latency.
Xruns cut audio, so a run with xruns is judged on damaged output: run it on a quiet machine.
A preset FILE (YAML/JSON) compares a variant, e.g. `balanced` with another pitch tracker.
--dnsmos-shifts MS [MS ...] also scores every source and output as the mean over those leads of
silence (core.convert.listening.dnsmos_averaged): DNSMOS moves by up to 0.5 with where its frames
fall, and a live output's start moves with the latency the engine settles on, run to run.
--targets-dir CORPUS also judges whose voice each output is, as bench_quality.py does: the asked-for
singer's rank among all of the model's singers with recordings in CORPUS/<singer>/*.wav (Resemblyzer,
nearest centroid; core.convert.listening). Live conversion keeps the source's pitch, so compare it with
bench_quality.py without --auto-transpose.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 24000  # DNSMOS resamples to its own 16 kHz; reading at the model's rate keeps every band it scores


def simulate(source: Path, preset: str, singer: str, model: str | None, out: Path) -> dict:
    command = [sys.executable, "-m", "cli.main", "simulate", str(source), "--preset", preset, "--singer", singer,
               "-o", str(out), "--json"] + (["--model", model] if model else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"bench_live_quality: simulate failed for {source.name} -> {singer} ({preset}): "
                 f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return json.loads(done.stdout)


def evaluate_preset(preset: str, sources: list[Path], singers: list[str], model: str | None, work: Path,
                    source_ovrl: dict[Path, float], echo, shifts: list[float] | None = None,
                    source_averaged: dict[Path, float] | None = None, judge: tuple | None = None) -> dict:
    """judge: (embedder, centroids) to name each output's nearest singer, or None."""
    from core.audio.io import load_audio
    from core.convert.listening import dnsmos, dnsmos_averaged, singer_identification, singer_ranks

    pairs, per_source, identified = [], {}, []
    for source in sources:
        for singer in singers:
            out = work / f"{Path(preset).stem}_{source.stem}_{singer}.wav"
            report = simulate(source, preset, singer, model, out)
            played = load_audio(out, RATE)
            try:
                ratio = dnsmos(played, RATE)["ovrl"] / source_ovrl[source]
            except ValueError:  # it played (next to) silence: the worst a listener can get
                ratio = 0.0
            pair = {"source": source.stem, "singer": singer, "ovrl_ratio": round(ratio, 3),
                    "compute_p99_ms": report["compute_p99_ms"], "xruns": report["xruns"],
                    "latency_ms": report["latency_ms"]}
            if shifts:
                try:
                    averaged = dnsmos_averaged(played, RATE, shifts_ms=shifts)["ovrl"] / source_averaged[source]
                except ValueError:
                    averaged = 0.0
                pair["ovrl_ratio_averaged"] = round(averaged, 3)
            if judge is not None:
                embedder, centroids = judge
                embedding = embedder.embed(played, RATE)
                pair["nearest_singer"] = singer_ranks(embedding, centroids)[0]
                identified.append((singer, embedding))
            pairs.append(pair)
            per_source.setdefault(source.stem, []).append(ratio)
            echo(f"{Path(preset).stem:14s} {source.stem:20s} -> {singer:18s} DNSMOS ratio {ratio:.3f}  "
                 f"p99 {report['compute_p99_ms']:.1f} ms  xruns {report['xruns']}"
                 + (f"  nearest {pair['nearest_singer']}" if "nearest_singer" in pair else ""))
    ratios = np.array([p["ovrl_ratio"] for p in pairs])
    averaged = {"ovrl_ratio_averaged_mean": round(float(np.mean([p["ovrl_ratio_averaged"] for p in pairs])), 3),
                "dnsmos_shifts_ms": list(shifts)} if shifts else {}
    identity = {"singer_id": singer_identification(identified, judge[1])} if judge is not None else {}
    return {"preset": preset, "pairs": pairs, "ovrl_ratio_mean": round(float(ratios.mean()), 3), **averaged, **identity,
            "ovrl_ratio_min": round(float(ratios.min()), 3),
            "ovrl_ratio_by_source": {s: round(float(np.mean(r)), 3) for s, r in per_source.items()},
            "compute_p99_ms_median": round(float(np.median([p["compute_p99_ms"] for p in pairs])), 2),
            "xruns": int(sum(p["xruns"] for p in pairs)),
            "latency_ms_median": round(float(np.median([p["latency_ms"] for p in pairs])), 1)}


def model_singers(model: str | None, asked: list[str]) -> list[str]:
    """The model's singers (read from its file's header), once every asked-for one is among them: checked
    before any source is scored, so a misspelt name costs nothing."""
    from core.errors import UserError
    from core.models import describe_model, resolve_model

    singers = describe_model(resolve_model(model)).singers
    unknown = [s for s in asked if s not in singers]
    if unknown:
        raise UserError(f"not a singer of the model: {', '.join(unknown)}")
    return singers


def make_judge(targets_dir: str, singers: list[str], asked: list[str]) -> tuple:
    """(embedder, centroids of the model's singers recorded in targets_dir); every asked-for singer needs some."""
    from core.convert.evaluate import SpeakerEmbedder
    from core.convert.listening import singer_centroids
    from core.errors import UserError

    embedder = SpeakerEmbedder()
    centroids = singer_centroids(embedder, targets_dir, singers, RATE)
    unrecorded = [s for s in asked if s not in centroids]
    if unrecorded:
        raise UserError(f"no recordings in {targets_dir} of {', '.join(unrecorded)}")
    return embedder, centroids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", required=True, help="voices the model never saw")
    parser.add_argument("--singers", nargs="+", required=True, help="target singers of the model")
    parser.add_argument("--presets", nargs="+", default=["balanced"], help="preset names or files")
    parser.add_argument("--model", default=None, help="model file (default: the default model)")
    parser.add_argument("--keep", default=None, help="keep the played WAVs in this folder")
    parser.add_argument("--dnsmos-shifts", nargs="+", type=float, default=None, metavar="MS",
                        help="also score each clip as the mean over these leads of silence (ms), e.g. 0 3 6 9 12")
    parser.add_argument("--targets-dir", default=None, metavar="CORPUS",
                        help="also name each output's nearest singer among the model's singers recorded in "
                             "CORPUS/<singer>/*.wav (top-1, mean rank)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from core.audio.io import load_audio
    from core.convert.listening import check_listening_inputs, dnsmos, dnsmos_averaged
    from core.errors import UserError

    try:
        sources = check_listening_inputs(args.sources, args.dnsmos_shifts)
        singers = model_singers(args.model, args.singers)
        judge = make_judge(args.targets_dir, singers, args.singers) if args.targets_dir else None
    except UserError as exc:
        parser.error(str(exc))
    source_ovrl = {s: dnsmos(load_audio(s, RATE), RATE)["ovrl"] for s in sources}
    source_averaged = ({s: dnsmos_averaged(load_audio(s, RATE), RATE, shifts_ms=args.dnsmos_shifts)["ovrl"]
                        for s in sources} if args.dnsmos_shifts else None)
    echo = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.keep) if args.keep else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        results = [evaluate_preset(p, sources, args.singers, args.model, work, source_ovrl, echo, args.dnsmos_shifts,
                                   source_averaged, judge) for p in args.presets]
    if args.json:
        print(json.dumps({"model": args.model or "default", "results": results}, indent=2))
    else:
        for r in results:
            if "ovrl_ratio_averaged_mean" in r:
                print(f"{r['preset']}: DNSMOS ratio over leads of silence {r['dnsmos_shifts_ms']} ms: "
                      f"mean {r['ovrl_ratio_averaged_mean']:.3f}")
            if "singer_id" in r:
                ident = r["singer_id"]
                print(f"{r['preset']}: asked-for singer nearest in {ident['top1']:.0%} of {ident['n']} "
                      f"(mean rank {ident['mean_rank']:.2f}; chance {ident['chance']:.0%})")
            print(f"{r['preset']}: DNSMOS ratio mean {r['ovrl_ratio_mean']:.3f} (min {r['ovrl_ratio_min']:.3f}; "
                  f"by source {r['ovrl_ratio_by_source']}), compute p99 median {r['compute_p99_ms_median']} ms, "
                  f"xruns {r['xruns']}, latency median {r['latency_ms_median']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
