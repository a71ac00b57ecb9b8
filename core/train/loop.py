"""The training loop every trainer shares: steps, progress bar, TensorBoard, checkpoints, resume.

A trainer supplies `step_fn(step) -> {name: float}` (one optimiser step; the
first entry is "loss") and optionally `validate(writer, step)`. The loop:
- resumes from the training checkpoint if asked (state.py: exact, no pickles);
- shows a progress bar with the loss and steps/s;
- logs every loss and the learning rate to TensorBoard every `log_every` steps;
- every `checkpoint_every` steps (and at the end) writes the checkpoint
  atomically and runs validation; only rank 0 writes.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from core.errors import UserError
from core.train.distributed import Runtime
from core.train.state import TrainState, load_state, save_state


@dataclass(frozen=True)
class LoopSettings:
    steps: int
    checkpoint_path: Path
    checkpoint_every: int
    log_every: int
    log_dir: Path | None = None
    progress: bool = True
    max_minutes: float | None = None
    name: str = "train"
    log: Callable[[str], None] | None = None  # a line per checkpoint when there is no progress bar


def try_resume(state: TrainState, path: Path, resume: bool, log: Callable[[str], None] = print) -> bool:
    if not resume:
        return False
    if not path.exists():
        log(f"no checkpoint at {path}; starting from step 0")
        return False
    load_state(path, state)
    log(f"resumed from {path} at step {state.step}")
    return True


def figure(value: float) -> str:
    """A loss or metric for a log line: 4 significant digits (a student loss is ~1e-3, a teacher's ~1)."""
    return f"{value:.4g}"


def learning_rate(state: TrainState) -> float:
    optimizer = next(iter(state.optimizers.values()))
    return float(optimizer.param_groups[0]["lr"])


def run_loop(state: TrainState, step_fn: Callable[[int], dict[str, float]], settings: LoopSettings,
             runtime: Runtime, validate: Callable[[Any, int], dict[str, float]] | None = None) -> dict[str, Any]:
    """Train from state.step to settings.steps; returns losses summary (first/last, steps/s)."""
    from tqdm import tqdm

    writer = None
    if runtime.is_main and settings.log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(settings.log_dir))
    started, first_step = time.monotonic(), state.step
    history: list[tuple[int, float]] = []
    bar = tqdm(total=settings.steps, initial=state.step, desc=settings.name, unit="step",
               disable=not (settings.progress and runtime.is_main), dynamic_ncols=True)
    validation: dict[str, float] = {}
    try:
        for step in range(state.step + 1, settings.steps + 1):
            parts = step_fn(step)
            loss = parts["loss"]
            if not math.isfinite(loss):
                raise UserError(f"{settings.name}: the loss became {loss} at step {step}; lower the learning "
                                "rate or check the data (the last checkpoint is intact)")
            state.step = step
            history.append((step, loss))
            elapsed = time.monotonic() - started
            bar.set_postfix(loss=f"{loss:.4f}", steps_s=f"{(step - first_step) / max(elapsed, 1e-9):.2f}")
            bar.update(1)
            if writer is not None and (step % settings.log_every == 0 or step == 1):
                for key, value in parts.items():
                    writer.add_scalar(f"{settings.name}/{key}", value, step)
                writer.add_scalar(f"{settings.name}/lr", learning_rate(state), step)
            out_of_time = settings.max_minutes is not None and elapsed > settings.max_minutes * 60
            if step % settings.checkpoint_every == 0 or step == settings.steps or out_of_time:
                if runtime.is_main:
                    save_state(settings.checkpoint_path, state)
                    if validate is not None:
                        validation = validate(writer, step)
                    if settings.log is not None and not settings.progress:
                        recent = [v for _, v in history[-settings.checkpoint_every:]]
                        figures = "".join(f" {k} {figure(v)}" for k, v in validation.items())
                        settings.log(f"{settings.name} step {step} loss {figure(sum(recent) / len(recent))}{figures} "
                                     f"({elapsed:.0f} s)")
                runtime.barrier()
            if out_of_time:
                break
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    seconds = time.monotonic() - started
    losses = [v for _, v in history]
    window = max(min(len(losses) // 10, 50), 1)
    return {"steps": state.step, "seconds": seconds, "steps_per_second": len(losses) / max(seconds, 1e-9),
            "first_loss": float(sum(losses[:window]) / window) if losses else None,
            "last_loss": float(sum(losses[-window:]) / window) if losses else None,
            "curve": _curve(history), "validation": validation}


def _curve(history: list[tuple[int, float]], points: int = 10) -> list[tuple[int, float]]:
    """(last step, mean loss) of each of `points` near-equal parts of the run, for reports.

    Equal parts, not fixed-size chunks: a chunk of one leftover step at the end
    would report a single noisy loss as the run's last point.
    """
    parts = min(points, len(history))
    bounds = [len(history) * i // parts for i in range(parts + 1)] if parts else []
    return [(history[hi - 1][0], sum(v for _, v in history[lo:hi]) / (hi - lo))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def log_mel_image(writer, tag: str, log_mel: torch.Tensor, step: int) -> None:
    """A (n_mels, T) log10 mel as a TensorBoard image (low frequencies at the bottom)."""
    if writer is None:
        return
    image = log_mel.detach().float().cpu().flip(0)
    image = (image - image.min()) / (image.max() - image.min()).clamp_min(1e-6)
    writer.add_image(tag, image[None], step)


def default_dirs(out_path: str | os.PathLike) -> tuple[Path, Path]:
    """(training checkpoint path, TensorBoard dir) next to the output model file."""
    out = Path(out_path)
    return out.with_name(out.stem + ".train-state.safetensors"), out.with_name(out.stem + ".logs")
