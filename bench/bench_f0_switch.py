"""What the engine's worker pays to switch pitch tracker, with and without the tracker prepared first.

The engine makes a tracker on a thread of its own (Engine.set_f0_method ->
ModelConverter.prepare_f0_method) and switches when it is made. This times what
the worker itself then pays at the switch (stream.set_f0_method), both ways, on
a fresh load of the model each way so that nothing is cached from the other.

A model's own tracker is made with its stream. --configured NAME loads the model as if it
had been trained with NAME instead (in memory), as a model swapped in while another
tracker runs: Engine.swap_converter now prepares the tracker in use before the swap, so
the "prepared first" column is also what the worker pays at such a swap.

    .venv/bin/python bench/bench_f0_switch.py [--model M] [--trackers crepe-full crepe fcpe] [--configured dio]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

torch.set_num_threads(1)  # as the engine runs


def switch_ms(model: str | None, trackers: list[str], prepared: bool, configured: str | None = None) -> dict[str, float]:
    from core.convert import VoiceModel
    from core.models import default_model_path
    from realtime.model_converter import ModelConverter

    if model is None and default_model_path() is None:
        raise SystemExit("no model: pass --model or install the default model")
    voice_model = VoiceModel.load(model)
    if configured:
        voice_model.config = voice_model.config.replace({"features.f0_method": configured})
    converter = ModelConverter(voice_model)
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
    parser.add_argument("--configured", default=None, help="load the model as if trained with this tracker")
    args = parser.parse_args()
    before = switch_ms(args.model, args.trackers, prepared=False, configured=args.configured)
    after = switch_ms(args.model, args.trackers, prepared=True, configured=args.configured)
    print("tracker      made by the worker   prepared first")
    for name in args.trackers:
        print(f"{name:12s} {before[name]:10.1f} ms {after[name]:15.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
