"""What the engine's worker pays to switch pitch tracker, with and without the tracker prepared first.

The engine makes a tracker on a thread of its own (Engine.set_f0_method ->
ModelConverter.prepare_f0_method) and switches when it is made. This times what
the worker itself then pays at the switch (stream.set_f0_method), both ways, on
a fresh load of the model each way so that nothing is cached from the other.

    .venv/bin/python bench/bench_f0_switch.py [--model M] [--trackers crepe-full crepe fcpe]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

torch.set_num_threads(1)  # as the engine runs


def switch_ms(model: str | None, trackers: list[str], prepared: bool) -> dict[str, float]:
    from realtime.model_converter import ModelConverter, make_converter

    converter = make_converter(model)
    if not isinstance(converter, ModelConverter):
        raise SystemExit("no model: pass --model or install the default model")
    converter.prepare(block=1024, context=4800, lookahead=384)  # the `balanced` layout
    times = {}
    for name in trackers:
        if prepared:
            converter.prepare_f0_method(name)
        start = time.perf_counter()
        converter.stream.set_f0_method(name)
        times[name] = 1000.0 * (time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file (default: the default model)")
    parser.add_argument("--trackers", nargs="+", default=["crepe-full", "crepe", "fcpe"])
    args = parser.parse_args()
    before = switch_ms(args.model, args.trackers, prepared=False)
    after = switch_ms(args.model, args.trackers, prepared=True)
    print("tracker      made by the worker   prepared first")
    for name in args.trackers:
        print(f"{name:12s} {before[name]:10.1f} ms {after[name]:15.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
