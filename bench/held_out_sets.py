"""Issue #13's named sets of held-out voices, run through bench_quality.py and pooled in one command.

    .venv/bin/python bench/held_out_sets.py RUN_DIR --model MODEL --targets-dir CORPUS [--voices-dir DIR] \\
        [--sets _0 _1 _2 _3 w0 w1 w2 w3] [--lanes 2] [--dry-run] [-- BENCH_QUALITY_FLAGS...]

BENCHMARKS.md has measured the sets below since sessions 12 (`_0`-`_3`), 40 (`w0`-`w3`) and 46
(`f0`-`f3`); each is one clip of each of its voices (bench/make_sung_voices.py), converted to every
singer of the model. The voices are made under DIR/voices2 (`--clips 2`) and DIR/voices4
(`--clips 4`) when missing (DIR: RUN_DIR unless --voices-dir; share one between runs). Each set
runs as `bench_quality.py --steps 1 --max-seconds 6 --threads 1 --json` plus the flags after `--`
(e.g. `--seed 1`, `--auto-transpose`), LANES sets at a time, into RUN_DIR/<set>.json; a set whose
JSON is already there is not run again. Then bench/pool_quality.py lays the runs out. `--dry-run`
prints the commands instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.errors import UserError  # noqa: E402

BENCH = Path(__file__).resolve().parent
FIRST = ("alsa_female", "allison_female", "carlo_male")
WIDER = ("june_female", "menardi_female", "ivr_ru_female")
FISH = ("fillets_cs_small", "fillets_cs_big", "fillets_nl_small", "fillets_nl_big")
# name: (voices, which make_sung_voices.py run: clips per voice, clip index)
SETS = {
    "_0": (FIRST, 2, 0), "_1": (FIRST, 2, 1), "_2": (FIRST, 4, 2), "_3": (FIRST, 4, 3),
    **{f"w{k}": (WIDER, 4, k) for k in range(4)},
    **{f"f{k}": (FISH, 4, k) for k in range(4)},
}
EIGHT = ("_0", "_1", "_2", "_3", "w0", "w1", "w2", "w3")
BASE_FLAGS = ("--steps", "1", "--max-seconds", "6", "--threads", "1", "--json")


def set_sources(name: str, voices_dir: Path) -> list[Path]:
    if name not in SETS:
        raise UserError(f"no held-out set named {name!r}; the sets are {', '.join(SETS)}")
    voices, clips, index = SETS[name]
    return [voices_dir / f"voices{clips}" / f"{voice}_{index}.wav" for voice in voices]


def voices_command(voices_dir: Path, clips: int) -> list[str]:
    out = voices_dir / f"voices{clips}"
    return [sys.executable, str(BENCH / "make_sung_voices.py"), str(out), "--clips", str(clips)]


def set_command(name: str, voices_dir: Path, model: str, targets: str, extra: list[str]) -> list[str]:
    sources = [str(p) for p in set_sources(name, voices_dir)]
    return [sys.executable, str(BENCH / "bench_quality.py"), "--model", model, "--sources", *sources,
            "--targets-dir", targets, *BASE_FLAGS, *extra]


def _run_set(name: str, command: list[str], run_dir: Path) -> str:
    out, err = run_dir / f"{name}.json", run_dir / f"{name}.err"
    with open(err, "w") as errors:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=errors, text=True)
    if done.returncode != 0:
        return f"{name}: bench_quality exited {done.returncode} (see {err})"
    tmp = out.with_suffix(".json.part")
    tmp.write_text(done.stdout)
    tmp.replace(out)  # a set killed half-way leaves no JSON, so a re-run does it again
    return ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="folder for the voices and one JSON per set")
    parser.add_argument("--model", required=True, help="model file or name")
    parser.add_argument("--targets-dir", required=True, help="corpus folder with <singer>/*.wav of the model's singers")
    parser.add_argument("--voices-dir", default=None, help="where voices2/ and voices4/ are or go (default RUN_DIR)")
    parser.add_argument("--sets", nargs="+", default=list(EIGHT), help="set names (default the eight: _0-_3, w0-w3)")
    parser.add_argument("--lanes", type=int, default=2, help="sets run at once, one thread each (default 2)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(own)

    def work() -> int:
        run_dir = Path(args.run_dir)
        voices_dir = Path(args.voices_dir or args.run_dir)
        for name in args.sets:
            set_sources(name, voices_dir)  # an unknown name fails before anything runs
        if args.lanes < 1:
            raise UserError("--lanes must be at least 1")
        plan = [voices_command(voices_dir, clips) for clips in sorted({SETS[n][1] for n in args.sets})
                if not (voices_dir / f"voices{clips}" / "voices.json").exists()]
        todo = [n for n in args.sets if not (run_dir / f"{n}.json").exists()]
        commands = {n: set_command(n, voices_dir, args.model, args.targets_dir, extra) for n in todo}
        if args.dry_run:
            for command in plan + list(commands.values()):
                print(" ".join(command))
            return 0
        run_dir.mkdir(parents=True, exist_ok=True)
        for command in plan:
            if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
                raise UserError(f"making the voices failed: {' '.join(command)}")
        with ThreadPoolExecutor(args.lanes) as pool:
            failures = [f for f in pool.map(lambda n: _run_set(n, commands[n], run_dir), todo) if f]
        if failures:
            raise UserError("; ".join(failures))
        runs = [str(run_dir / f"{n}.json") for n in args.sets]
        return subprocess.run([sys.executable, str(BENCH / "pool_quality.py"), *runs]).returncode

    try:
        return work()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
