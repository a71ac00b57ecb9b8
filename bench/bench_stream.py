"""Per-push cost of the streaming conversion (core.convert.ConversionStream) with a trained model.

Compares, in one run on the same audio, the parts that decide whether a model runs live:
the content encoder streamed incrementally vs re-encoding its window every push, and the live
pitch tracker (DIO; FCPE as shipped, with its network run eagerly instead of through its trace, with
its depthwise convolutions in the dense layout, and on float weights).

    .venv/bin/python bench/bench_stream.py [--model FILE] [--blocks 512 1024] [--pushes 150] [--stages] [--json]
        [--pitch-thread | --dilated | --traced] [--rounds 3]

Each variant: a fresh stream (lookahead 2 frames, as the live presets), 15 untimed pushes, then
--pushes timed pushes of a sung phrase; median and p95 per push, and the median as a share of the
block's duration (1.0 = as slow as real time).

--stages instead splits each push of the live layout (incremental content; DIO and FCPE as
shipped) into its parts: the content encoder's push and read, the pitch tracker (with its hold),
the acoustic model's window, the vocoder's stream, and the rest (buffers, loudness, conditions).
With --against OTHER.safetensors it times both models that way, alternating them --rounds times on
each cell, and prints each stage's median for both and their ratio (OTHER / --model). Stages are
timed with the pitch tracker on the caller's thread, so that they add up to the push.

--pitch-thread times whole pushes of the live layout with the tracker on the caller's thread and on
the stream's pitch thread (the default), alternating the two --rounds times on each cell, and prints
both medians, their ratio and whether the two gave the same samples.

--dilated times whole pushes of the live layout with the built-in vocoder's dilated convolutions on
torch's own CPU kernel (the way before) and as one matrix product each (core/dilated_conv.py),
alternated the same way, and prints both medians, their ratio and the largest sample difference.

--traced times whole pushes of the live layout with the acoustic model's WaveNet run eagerly (the way
before) and through its TorchScript trace (WaveNet.trace_for_inference, the shipped way on the CPU),
alternated the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

torch.set_num_threads(1)

WARM_PUSHES = 15
VARIANTS = (  # (label, incremental content encoder, pitch tracker, FCPE on int8 weights, FCPE's grouped convs
    #            channels-last, FCPE's network through its trace)
    ("incremental content, dio", True, "dio", True, True, True),
    ("windowed content, dio", False, "dio", True, True, True),
    ("incremental content, fcpe int8", True, "fcpe", True, True, True),
    ("incremental content, fcpe int8, untraced", True, "fcpe", True, True, False),
    ("incremental content, fcpe int8, dense layout", True, "fcpe", True, False, True),
    ("incremental content, fcpe float", True, "fcpe", False, True, True),
)


def sung_phrase(seconds: float, rate: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = 196 * 2 ** ((2 * np.floor(t / 0.8) % 7 + 0.3 * np.sin(2 * np.pi * 5.5 * t)) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    return (sum(0.2 / k * np.sin(k * phase) for k in range(1, 9)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
            ).astype(np.float32)


def push_sung_phrase(stream, block: int, pushes: int) -> tuple[list[float], np.ndarray]:
    """WARM_PUSHES untimed pushes, then `pushes` timed ones, of a sung phrase: (ms per timed push, all output)."""
    audio = sung_phrase((WARM_PUSHES + pushes) * block / stream.model.sample_rate + 1.0)
    times, out = [], []
    for i in range(WARM_PUSHES + pushes):
        t0 = time.perf_counter()
        out.append(stream.push(audio[i * block:(i + 1) * block]))
        if i >= WARM_PUSHES:
            times.append(1000.0 * (time.perf_counter() - t0))
    return times, np.concatenate(out)


def time_variant(model, block: int, pushes: int, incremental: bool, f0_method: str, int8: bool,
                 channels_last: bool, traced: bool) -> dict:
    from core.convert import ConversionStream
    from core.features.pitch import get_pitch_extractor

    stream = ConversionStream(model, lookahead_frames=2, max_block_frames=block // model.hop_length + 1)
    if not incremental:
        stream._content_stream = None  # the windowed path: re-encode the receptive window each push
    if f0_method == "fcpe" and not (int8 and channels_last and traced):  # not the live default: make it here
        f, a = model.config.features, model.config.audio
        stream._extractor = get_pitch_extractor("fcpe", sample_rate=a.sample_rate, hop_length=a.hop_length,
                                                f0_floor=f.f0_floor, f0_ceil=f.f0_ceil, silence_db=f.f0_silence_db,
                                                int8=int8, channels_last=channels_last, traced=traced)
    else:
        stream.set_f0_method(f0_method)
    times, _ = push_sung_phrase(stream, block, pushes)
    block_ms = 1000.0 * block / model.sample_rate
    median = float(np.median(times))
    return {"block_samples": block, "block_ms": round(block_ms, 2), "median_ms": round(median, 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2), "share_of_real_time": round(median / block_ms, 3)}


STAGES = ("content", "pitch", "acoustic", "vocoder", "retrieval")


def _timed(record: dict, stage: str, function):
    """`function`, adding its wall time (ms) to record[stage] on every call."""
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            record[stage] += 1000.0 * (time.perf_counter() - t0)
    return wrapper


def time_stages(model, block: int, pushes: int, f0_method: str, retrieval: float = 0.0) -> dict:
    """Median and p95 per stage of a push; the stages are timed by wrapping the stream's parts."""
    from core.convert import ConversionStream

    stream = ConversionStream(model, lookahead_frames=2, max_block_frames=block // model.hop_length + 1,
                              retrieval=retrieval, pitch_thread=False)
    stream.set_f0_method(f0_method)
    record = dict.fromkeys(STAGES, 0.0)
    content = stream._content_stream
    content.push = _timed(record, "content", content.push)
    content.latest = _timed(record, "content", content.latest)
    stream._new_f0 = _timed(record, "pitch", stream._new_f0)
    generator = stream.model.generator
    generator.window = _timed(record, "acoustic", generator.window)
    stream._vocoder_stream.process = _timed(record, "vocoder", stream._vocoder_stream.process)
    if model.retrieval is not None:
        model.retrieval.blend = _timed(record, "retrieval", model.retrieval.blend)
    audio = sung_phrase((WARM_PUSHES + pushes) * block / model.sample_rate + 1.0)
    rows = []
    try:
        for i in range(WARM_PUSHES + pushes):
            for stage in STAGES:
                record[stage] = 0.0
            t0 = time.perf_counter()
            stream.push(audio[i * block:(i + 1) * block])
            total = 1000.0 * (time.perf_counter() - t0)
            if i >= WARM_PUSHES:
                rows.append({**record, "rest": total - sum(record.values()), "total": total})
    finally:
        del generator.window  # the model object is shared by the other variants: unwrap
        if model.retrieval is not None:
            del model.retrieval.blend
    parts = (*STAGES, "rest", "total")
    return {"block_samples": block, "block_ms": round(1000.0 * block / model.sample_rate, 2), "f0_method": f0_method,
            "retrieval": retrieval,
            "median_ms": {k: round(float(np.median([r[k] for r in rows])), 2) for k in parts},
            "p95_ms": {k: round(float(np.percentile([r[k] for r in rows], 95)), 2) for k in parts}}


def compare_stages(model, other, block: int, pushes: int, f0_method: str, rounds: int) -> dict:
    """Two models' per-stage medians, timed alternately (model, other, model, ...) so that a machine
    that slows down or speeds up during the run weighs on both alike; each figure is the median over
    the rounds of each round's median, and `ratio` is other / model."""
    timed = {"model": [], "against": []}
    for _ in range(rounds):
        timed["model"].append(time_stages(model, block, pushes, f0_method)["median_ms"])
        timed["against"].append(time_stages(other, block, pushes, f0_method)["median_ms"])
    medians = {side: {k: float(np.median([r[k] for r in runs])) for k in runs[0]} for side, runs in timed.items()}
    return {"block_samples": block, "block_ms": round(1000.0 * block / model.sample_rate, 2), "f0_method": f0_method,
            "rounds": rounds, "model_ms": {k: round(v, 3) for k, v in medians["model"].items()},
            "against_ms": {k: round(v, 3) for k, v in medians["against"].items()},
            "ratio": {k: round(medians["against"][k] / max(medians["model"][k], 1e-9), 3) for k in medians["model"]}}


@contextmanager
def torch_dilated_convs(enabled: bool):
    """With `enabled`, the vocoder's dilated convolutions run on torch's own CPU kernel, as before
    core/dilated_conv.py (the content stream already ran its own as matrix products); otherwise (the
    shipped way) as one matrix product each."""
    import torch.nn.functional as F

    import core.vocoder.builtin as vocoder

    shipped = vocoder.dilated_conv1d
    if enabled:
        vocoder.dilated_conv1d = lambda x, weight, bias, dilation: F.conv1d(x, weight, bias, dilation=dilation)
    try:
        yield
    finally:
        vocoder.dilated_conv1d = shipped


@contextmanager
def eager_denoiser(model, enabled: bool):
    """With `enabled`, the acoustic model's WaveNet runs eagerly, as before its trace: a stream made inside
    does not trace it, and a trace made before is set aside until the end."""
    from core.model import wavenet

    network = model.generator.network
    if not enabled:
        yield
        return
    trace = wavenet._TRACES.pop(network, None)
    network.trace_for_inference = lambda frames=64: None  # an instance attribute over the method
    try:
        yield
    finally:
        del network.trace_for_inference
        if trace is not None:
            wavenet._TRACES[network] = trace


def time_pushes(model, block: int, pushes: int, f0_method: str, pitch_thread: bool = True,
                torch_dilated: bool = False, eager: bool = False) -> tuple[float, np.ndarray]:
    """(median ms per push, the output) of the live layout, the tracker on or off the pitch thread, the
    dilated convolutions on torch's kernel or as matrix products, the denoiser eager or traced."""
    from core.convert import ConversionStream

    with eager_denoiser(model, eager):
        stream = ConversionStream(model, lookahead_frames=2, max_block_frames=block // model.hop_length + 1,
                                  pitch_thread=pitch_thread)
        stream.set_f0_method(f0_method)
        with torch_dilated_convs(torch_dilated):
            times, out = push_sung_phrase(stream, block, pushes)
    return float(np.median(times)), out


def alternate(model, block: int, pushes: int, f0_method: str, rounds: int, before: dict, after: dict) -> dict:
    """Whole pushes one way (`before`: time_pushes' keywords), then the other, alternated `rounds` times.
    Each figure is the median of the rounds' medians; `ratio` is after / before."""
    medians = {"before": [], "after": []}
    outputs = {}
    for _ in range(rounds):
        for way, settings in (("before", before), ("after", after)):
            median, outputs[way] = time_pushes(model, block, pushes, f0_method, **settings)
            medians[way].append(median)
    first, second = float(np.median(medians["before"])), float(np.median(medians["after"]))
    return {"block_samples": block, "block_ms": round(1000.0 * block / model.sample_rate, 2), "f0_method": f0_method,
            "rounds": rounds, "before_ms": round(first, 2), "after_ms": round(second, 2),
            "ratio": round(second / first, 3),
            "max_sample_difference": float(np.max(np.abs(outputs["before"] - outputs["after"]))),
            "same_samples": bool(np.array_equal(outputs["before"], outputs["after"]))}


def compare_pitch_thread(model, block: int, pushes: int, f0_method: str, rounds: int) -> dict:
    """The tracker on the caller's thread (`serial_ms`), then on the pitch thread (`threaded_ms`)."""
    row = alternate(model, block, pushes, f0_method, rounds, {"pitch_thread": False}, {"pitch_thread": True})
    row["serial_ms"], row["threaded_ms"] = row.pop("before_ms"), row.pop("after_ms")
    return row


def compare_dilated(model, block: int, pushes: int, f0_method: str, rounds: int) -> dict:
    """The vocoder's dilated convolutions on torch's kernel (`torch_ms`), then as matrix products (`matrix_ms`)."""
    row = alternate(model, block, pushes, f0_method, rounds, {"torch_dilated": True}, {"torch_dilated": False})
    row["torch_ms"], row["matrix_ms"] = row.pop("before_ms"), row.pop("after_ms")
    return row


def compare_traced(model, block: int, pushes: int, f0_method: str, rounds: int) -> dict:
    """The denoiser's WaveNet eager (`eager_ms`), then through its trace (`traced_ms`)."""
    row = alternate(model, block, pushes, f0_method, rounds, {"eager": True}, {"eager": False})
    row["eager_ms"], row["traced_ms"] = row.pop("before_ms"), row.pop("after_ms")
    return row


class TwoWays(NamedTuple):
    """An option that times whole pushes two ways: its function, and each way's label and field."""
    compare: Callable
    first: str
    first_field: str
    second: str
    second_field: str


TWO_WAYS = {
    "pitch_thread": TwoWays(compare_pitch_thread, "tracker on the caller", "serial_ms", "on the pitch thread",
                            "threaded_ms"),
    "dilated": TwoWays(compare_dilated, "torch's dilated kernel", "torch_ms", "matrix products", "matrix_ms"),
    "traced": TwoWays(compare_traced, "denoiser eager", "eager_ms", "through its trace", "traced_ms"),
}


def main() -> int:
    from cli.device_flag import add_device_flag, device_or_exit
    from core.convert import VoiceModel
    from core.errors import UserError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file (default: the default model)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[512, 1024], help="push sizes in 24 kHz samples")
    parser.add_argument("--pushes", type=int, default=150)
    parser.add_argument("--stages", action="store_true", help="split the live layout's push into its stages")
    parser.add_argument("--against", default=None, metavar="MODEL",
                        help="with --stages: also time this model, alternating with --model over --rounds rounds, "
                             "and report its per-stage medians as a ratio to --model's")
    parser.add_argument("--pitch-thread", action="store_true",
                        help="time whole pushes with the tracker on the caller's thread and on the pitch thread")
    parser.add_argument("--dilated", action="store_true",
                        help="time whole pushes with the vocoder's dilated convolutions on torch's kernel and as "
                             "matrix products")
    parser.add_argument("--traced", action="store_true",
                        help="time whole pushes with the acoustic model's WaveNet eager and through its trace")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --against, --pitch-thread, --dilated or --traced: alternations per cell")
    parser.add_argument("--retrieval", type=float, default=None,
                        help="with --stages: time each cell without and then with this feature-retrieval ratio "
                             "(the model needs an index)")
    add_device_flag(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.against and not args.stages:
        parser.error("--against compares the stages of a push: add --stages")
    try:
        model = VoiceModel.load(args.model, device_or_exit(parser, args.device))
        other = VoiceModel.load(args.against, device_or_exit(parser, args.device)) if args.against else None
    except UserError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    rows = []
    for option, ways in TWO_WAYS.items():
        if not getattr(args, option):
            continue
        rows = [ways.compare(model, block, args.pushes, method, args.rounds)
                for block in args.blocks for method in ("dio", "fcpe")]
        if args.json:
            print(json.dumps({"model": model.path, option: rows}))
        for row in [] if args.json else rows:
            print(f"{row['block_samples']:5d} samples ({row['block_ms']:5.1f} ms) {row['f0_method']:4s} "
                  f"median ms per push: {ways.first} {row[ways.first_field]:6.2f}, "
                  f"{ways.second} {row[ways.second_field]:6.2f} "
                  f"(x{row['ratio']:.3f}), same samples: {row['same_samples']}, "
                  f"largest difference {row['max_sample_difference']:.1e}")
        return 0
    if other is not None:
        rows = [compare_stages(model, other, block, args.pushes, method, args.rounds)
                for block in args.blocks for method in ("dio", "fcpe")]
        if args.json:
            print(json.dumps({"model": model.path, "against": other.path, "comparison": rows}))
        for row in [] if args.json else rows:
            cells = "  ".join(f"{k} {row['model_ms'][k]:5.2f}->{row['against_ms'][k]:5.2f} (x{row['ratio'][k]:.3f})"
                              for k in row["ratio"])
            print(f"{row['block_samples']:5d} samples {row['f0_method']:4s} median ms, --model -> --against: {cells}")
        return 0
    if args.stages:
        ratios = [0.0] if args.retrieval is None else [0.0, args.retrieval]
        rows = [time_stages(model, block, args.pushes, method, ratio)
                for block in args.blocks for method in ("dio", "fcpe") for ratio in ratios]
        if args.json:
            print(json.dumps({"model": model.path, "config": model.config.name, "stages": rows}))
        for row in [] if args.json else rows:
            cells = "  ".join(f"{k} {row['median_ms'][k]:5.2f}/{row['p95_ms'][k]:5.2f}" for k in row["median_ms"])
            print(f"{row['block_samples']:5d} samples ({row['block_ms']:5.1f} ms) {row['f0_method']:4s} "
                  f"retrieval {row['retrieval']:.2f}  median/p95 ms: {cells}")
        return 0
    for block in args.blocks:
        for label, *variant in VARIANTS:
            row = {"variant": label, **time_variant(model, block, args.pushes, *variant)}
            rows.append(row)
            if not args.json:
                print(f"{block:5d} samples ({row['block_ms']:5.1f} ms)  {label:46s} median {row['median_ms']:6.2f} ms  "
                      f"p95 {row['p95_ms']:6.2f} ms  {row['share_of_real_time']:.2f} of real time", flush=True)
    if args.json:
        print(json.dumps({"model": model.path, "config": model.config.name, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
