"""Pool bench_quality.py runs: identity and DNSMOS over several sets of clips and draws of the noise.

    .venv/bin/python bench/pool_quality.py RUN.json [RUN.json ...] [--steps 1] [--ceiling CEILING.json] [--json]

Each RUN is the output of one `bench_quality.py ... --json`: one set of sources, one --seed. Every pair
of a run starts from the same noise (the noise is anchored to frames, not to the source or singer), so
a run is one draw, and a figure pooled over the sets of one seed is still one draw. This lays the
runs out as sets x seeds and reports, for each sampler (--steps value):
- per set and seed: the asked-for singer's top-1 count and the DNSMOS OVRL ratio to the input
  (the outputs' mean over the sources' mean, the form issue #13 is read in);
- per seed, pooled over the sets: top-1 count and share, and the ratio of the lowest set;
- over the seeds: each set's mean, and the pooled share's mean and range;
- per asked-for singer, over every run: top-1 count and whom its misses were heard as; with
  --ceiling (a bench_identity_ceiling.py --json run on the same sources and singers), beside the
  judge's ceiling for that singer, so a singer the model loses can be told from one the judge cannot
  find at the sources' pitch whatever the model;
- between two draws of one set: the share of pairs heard as the same singer in both (even when it
  is high, the pairs that differ can move one set's figure by a few conversions).
All runs must share the model and the transposition (one error line otherwise): pooling a model or
a mode with another would say nothing about either. Two model paths are one model when the files
have the same bytes (a copy of the shipped file is the shipped model). A run written before --seed
existed counts as seed 0, the default it ran with.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402
from core.errors import UserError  # noqa: E402


def _read_json(path: str, made_by: str) -> object:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path}: not a {made_by} --json output (not JSON)") from None


def _load(path: str) -> dict:
    run = _read_json(path, "bench_quality.py")
    if not isinstance(run, dict) or not isinstance(run.get("pairs"), list) or "source_dnsmos" not in run:
        raise UserError(f"{path}: not a bench_quality.py --json output (no pairs)")
    return run


def _model_identity(path: str | None) -> str:
    """The model's bytes' digest where the file is here, else its path as the run wrote it."""
    if path and Path(path).is_file():
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    return str(path)


def _same(runs: list[tuple[str, dict]], key: str, what: str, identity=lambda value: json.dumps(value)) -> object:
    values = {identity(run.get(key)): run.get(key) for _, run in runs}
    if len(values) > 1:
        shown = ", ".join(sorted(str(v) for v in values.values()))
        raise UserError(f"the runs differ in {what} ({shown}): pool runs of one {what} only")
    return runs[0][1].get(key)


def _seed(run: dict) -> int:
    """The run's --seed; a run written before --seed existed ran with the default, 0."""
    return int(run.get("seed") or 0)


def cell(run: dict, steps: str) -> dict:
    """One run's figures for one sampler (every run has it: pool() checks): top-1 count, pairs, DNSMOS
    ratio of the means."""
    pairs = [p for p in run["pairs"] if str(p["steps"]) == steps]
    outputs = [p["dnsmos"]["ovrl"] for p in pairs if p.get("dnsmos")]
    inputs = [d["ovrl"] for d in run["source_dnsmos"].values() if d]
    ratio = float(np.mean(outputs) / np.mean(inputs)) if outputs and inputs else None
    return {"top1": sum(p["nearest_singer"] == p["singer"] for p in pairs), "pairs": len(pairs), "dnsmos_ratio": ratio}


def by_singer(runs: list[dict], steps: str, ceiling: dict | None) -> dict[str, dict]:
    """Per asked-for singer over all runs: top-1, pairs, whom the misses were heard as, and the ceiling's
    top-1 share for that singer where --ceiling has it."""
    from core.convert.listening import tally_by_singer

    tally = tally_by_singer([(p["singer"], p["nearest_singer"]) for run in runs for p in run["pairs"]
                             if str(p["steps"]) == steps])
    rows = {}
    for singer, row in tally.items():
        found = (ceiling or {}).get(singer)
        rows[singer] = {"top1": row["top1"], "pairs": row["n"], "heard_as": row["heard_as"],
                        "ceiling_share": found["top1"] / found["n"] if found and found["n"] else None}
    return rows


def draw_agreement(grid: dict[tuple[int, int], dict], seeds: list[int], steps: str) -> dict[str, dict] | None:
    """For the first seed against each other one, over the sets both have: the share of (source, singer)
    pairs heard as the same singer in both draws."""
    if len(seeds) < 2:
        return None
    heard = {key: {(p["source"], p["singer"]): p["nearest_singer"] for p in run["pairs"] if str(p["steps"]) == steps}
             for key, run in grid.items()}
    result = {}
    for other in seeds[1:]:
        same = total = 0
        for (s, seed), first in heard.items():
            if seed != seeds[0] or (s, other) not in heard:
                continue
            second = heard[(s, other)]
            common = first.keys() & second.keys()
            same += sum(first[k] == second[k] for k in common)
            total += len(common)
        result[f"{seeds[0]}-{other}"] = {"pairs": total, "same_share": same / total if total else None}
    return result


def load_ceiling(path: str) -> dict[str, dict]:
    """A bench_identity_ceiling.py --json run's per-singer top-1 at the sources' pitch."""
    run = _read_json(path, "bench_identity_ceiling.py")
    found = run.get("at_source_pitch_by_singer") if isinstance(run, dict) else None
    if not isinstance(found, dict):
        raise UserError(f"{path}: not a bench_identity_ceiling.py --json output with per-singer figures "
                        "(made before they existed? run it again)")
    return found


def pool(paths: list[str], steps_wanted: list[str] | None, ceiling_path: str | None = None) -> dict:
    runs = [(path, _load(path)) for path in paths]  # a list: a file given twice is a repeat, not one run
    ceiling = load_ceiling(ceiling_path) if ceiling_path else None
    model = _same(runs, "model", "model", _model_identity)
    auto = _same(runs, "auto_transpose_mode", "transposition")
    steps_found = [sorted({str(p["steps"]) for p in run["pairs"]}) for _, run in runs]
    common = sorted(set(steps_found[0]).intersection(*steps_found[1:]))
    steps_list = steps_wanted or common
    missing = [s for s in steps_list if s not in common]
    if missing or not steps_list:
        raise UserError(f"not every run has the sampler {', '.join(missing) or 'in common'}; they share: "
                        f"{', '.join(common) or 'none'}")

    sets = sorted({tuple(run["sources"]) for _, run in runs})
    seeds = sorted({_seed(run) for _, run in runs})
    grid: dict[tuple[int, int], dict] = {}
    for path, run in runs:
        key = (sets.index(tuple(run["sources"])), _seed(run))
        if key in grid:
            raise UserError(f"{path} repeats set {key[0] + 1} with seed {key[1]}: give each set and seed once")
        grid[key] = run

    samplers = {}
    for steps in steps_list:
        table = {(s, seed): cell(run, steps) for (s, seed), run in grid.items()}
        per_seed = {}
        for seed in seeds:
            cells = [c for (s, sd), c in table.items() if sd == seed]
            hits, n = sum(c["top1"] for c in cells), sum(c["pairs"] for c in cells)
            ratios = [c["dnsmos_ratio"] for c in cells if c["dnsmos_ratio"] is not None]
            per_seed[seed] = {"sets": len(cells), "top1": hits, "pairs": n, "top1_share": hits / n,
                              "lowest_set_dnsmos_ratio": min(ratios) if ratios else None}
        per_set = []
        for s, sources in enumerate(sets):
            cells = [table[(s, seed)] for seed in seeds if (s, seed) in table]
            ratios = [c["dnsmos_ratio"] for c in cells if c["dnsmos_ratio"] is not None]
            per_set.append({"sources": list(sources),
                            "by_seed": {seed: table[(s, seed)] for seed in seeds if (s, seed) in table},
                            "top1_mean": float(np.mean([c["top1"] for c in cells])),
                            "pairs": cells[0]["pairs"],
                            "dnsmos_ratio_mean": float(np.mean(ratios)) if ratios else None})
        shares = [per_seed[seed]["top1_share"] for seed in seeds]
        complete = all(per_seed[seed]["sets"] == len(sets) for seed in seeds)
        samplers[steps] = {"sets": per_set, "by_seed": per_seed, "complete": complete,
                           "top1_share_mean": float(np.mean(shares)),
                           "top1_share_range": [min(shares), max(shares)],
                           "by_singer": by_singer([run for _, run in runs], steps, ceiling),
                           "draw_agreement": draw_agreement(grid, seeds, steps)}
    return {"model": model, "auto_transpose_mode": auto, "runs": list(paths), "seeds": seeds,
            "sets": len(sets), "ceiling": ceiling_path, "samplers": samplers}


def _source_name(path: str) -> str:
    """A source's file name, with its folder where the name alone is a number (a singer's clip 0.wav)."""
    path = Path(path)
    return f"{path.parent.name}/{path.stem}" if path.stem.isdigit() else path.stem


def _fmt(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(result: dict) -> None:
    mode = f"auto-transpose by {result['auto_transpose_mode']}" if result["auto_transpose_mode"] else "no transposition"
    print(f"model {result['model']}, {mode}: {len(result['runs'])} runs, {result['sets']} sets x seeds "
          f"{', '.join(str(s) for s in result['seeds'])}")
    for steps, sampler in result["samplers"].items():
        print(f"\nsampler {steps}: top-1 of the pairs (DNSMOS OVRL / input, ratio of the means)")
        print(f"{'set':48s} " + " ".join(f"{'seed ' + str(s):>14s}" for s in result["seeds"]) + f" {'mean':>14s}")
        for row in sampler["sets"]:
            name = ", ".join(_source_name(p) for p in row["sources"])
            cells = [row["by_seed"].get(s) for s in result["seeds"]]
            text = [f"{c['top1']:>3d} ({_fmt(c['dnsmos_ratio'])})" if c else f"{'-':>11s}" for c in cells]
            print(f"{name[:48]:48s} " + " ".join(f"{t:>14s}" for t in text)
                  + f" {row['top1_mean']:>5.1f} ({_fmt(row['dnsmos_ratio_mean'])})")
        pooled = [sampler["by_seed"][s] for s in result["seeds"]]
        print(f"{'pooled top-1':48s} " + " ".join(f"{p['top1']:>4d}/{p['pairs']:<4d} {100 * p['top1_share']:>4.1f}%"
                                                  for p in pooled))
        print(f"{'lowest set DNSMOS / input':48s} " + " ".join(f"{_fmt(p['lowest_set_dnsmos_ratio']):>14s}"
                                                               for p in pooled))
        low, high = sampler["top1_share_range"]
        note = "" if sampler["complete"] else " (not every seed has every set: their shares are over different sets)"
        print(f"top-1 over the seeds: {100 * sampler['top1_share_mean']:.1f} % "
              f"({100 * low:.1f}-{100 * high:.1f} %){note}")
        for seeds, agreement in (sampler["draw_agreement"] or {}).items():
            print(f"heard as the same singer in draws {seeds}: {_fmt(agreement['same_share'], '.1%')} "
                  f"of {agreement['pairs']} pairs")
        print("\nby asked-for singer, all runs: top-1 / pairs (the judge's ceiling), misses heard as")
        for singer, row in sampler["by_singer"].items():
            ceiling = "" if row["ceiling_share"] is None else f" (ceiling {row['ceiling_share']:.0%})"
            misses = ", ".join(f"{other} {n}" for other, n in list(row["heard_as"].items())[:3])
            print(f"  {singer:28s} {row['top1']:>4d}/{row['pairs']:<4d} {row['top1'] / row['pairs']:>4.0%}{ceiling}"
                  + (f"; {misses}" if misses else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN.json", help="bench_quality.py --json outputs")
    parser.add_argument("--steps", nargs="+", default=None,
                        help="the samplers to pool, as bench_quality.py's --steps (default: every one all runs have)")
    parser.add_argument("--ceiling", default=None, metavar="CEILING.json",
                        help="a bench_identity_ceiling.py --json run on the same sources: each singer's ceiling")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    return run_report(lambda a: pool(a.runs, a.steps, a.ceiling), args, print_table)


if __name__ == "__main__":
    sys.exit(main())
