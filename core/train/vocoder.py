"""Training the built-in vocoder on a folder of recordings (self-contained).

Each step takes random crops of `train_crop_frames` frames, feeds the network
`train_warmup_frames` extra frames before each crop (so the causal convs see
real context, as they do in a stream) and compares the audio of the crop with
the recording: multi-resolution STFT loss plus log10-mel L1. Half the crops get
gap-filled f0 (no zeros) because the live path holds f0 through unvoiced
frames; the network must then read voicing from the mel. AdamW, cosine decay
to a tenth of the learning rate, atomic checkpoints via `core.checkpoint`. On a GPU
(`device`) the crops are still cut on the CPU and moved per step; files and the
held-out score stay on the CPU.

With `vocoder.train_range_shift_max` > 0, each training file also gets two copies re-sung
by WORLD outside its range with its own envelope (core.data.timbre_shift): a
conversion without transposition hands the vocoder a singer's envelope at a pitch
it never heard them sing. The copies teach that envelope through the mel loss
only; their fine structure between harmonics is WORLD's, not the singer's, so the
STFT loss takes the recordings alone.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from core.audio.io import load_audio
from core.audio.mel import MelSpectrogram
from core.config import Config, load_config
from core.errors import UserError
from core.features.pitch import interpolate_unvoiced, pitch_extractor_from_config
from core.vocoder.builtin import BuiltinShape, BuiltinVocoder, BuiltinVocoderModel
from core.vocoder.evaluate import Analysis, analyse, score_resynthesis
from core.vocoder.files import load_vocoder_file, save_vocoder
from core.vocoder.stft_loss import MultiResolutionSTFTLoss

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
# The trainer holds every file whole in memory; longer recordings (a 3-hour take) are skipped with a message.
MAX_FILE_BYTES = 50 * 1024 * 1024


def find_audio_files(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """Audio files under a folder (recursively), or the given list; sorted, never empty."""
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if root.is_file():
            files = [root]
        elif root.is_dir():
            # os.walk with followlinks: a corpus of symlinked singer folders (as scripts/train_default_model.sh
            # makes) is found; Path.rglob does not enter linked folders.
            files = sorted(Path(folder) / name for folder, _, names in os.walk(root, followlinks=True)
                           for name in names if Path(name).suffix.lower() in AUDIO_SUFFIXES)
        else:
            raise UserError(f"training data not found: {root}")
    else:
        files = [Path(p) for p in source]
    if not files:
        raise UserError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {source}")
    return files


def drop_oversized(files: list[Path], log: Callable[[str], None] | None = print,
                   max_bytes: int = MAX_FILE_BYTES) -> list[Path]:
    """The files up to `max_bytes` (checked by size on disk, before reading); a line for each one left out."""
    kept = []
    for f in files:
        size = f.stat().st_size if f.is_file() else 0  # a missing file is load_audio's to report
        if size <= max_bytes:
            kept.append(f)
        elif log:
            log(f"skipped {f}: {size / 2**20:.0f} MB, over the vocoder trainer's {max_bytes / 2**20:.0f} MB per file "
                "(it loads whole files; split long recordings into shorter files)")
    if not kept:
        raise UserError(f"every training file is over {max_bytes / 2**20:.0f} MB (the vocoder trainer loads whole "
                        "files); split long recordings into shorter files")
    return kept


def split_held_out(files: list[Path], every: int = 10) -> tuple[list[Path], list[Path]]:
    """Every `every`-th file (by sorted order) is held out; at least one file trains."""
    if len(files) < 2:
        return files, []
    held = files[every // 2 :: every] or files[-1:]
    train = [f for f in files if f not in held]
    return train, held


def prepare(files: list[Path], config: Config, f0_method: str = "dio") -> list[Analysis]:
    """Audio, log10 mel and f0 of each file (short files, under two crops, are skipped)."""
    a = config.audio
    mel = MelSpectrogram(a)
    pitch = pitch_extractor_from_config(config.features, a, f0_method)
    return [analyse(load_audio(f, a.sample_rate), mel, pitch, a.hop_length) for f in files]


def aligned_analyses(model_path: str | os.PathLike, files: list[Path], data: list[Analysis], config: Config,
                     log: Callable[[str], None] | None = print) -> list[Analysis]:
    """The model's re-made mel of each analysis whose file's folder names one of its singers, with its audio and f0.

    A range copy is re-made from its re-sung audio, so the vocoder also learns the model's mels far from the
    singer's range, the ones a conversion without transposition hands it; it stays a mel-loss-only target."""
    from core.convert import VoiceModel
    from core.convert.reconstruction import reconstruct_log_mel

    model = VoiceModel.load(model_path)
    a = config.audio
    if (model.sample_rate, model.hop_length, model.config.audio.n_mels) != (a.sample_rate, a.hop_length, a.n_mels):
        raise UserError(f"{model_path} works at {model.sample_rate} Hz / hop {model.hop_length}, the vocoder's config "
                        f"at {a.sample_rate} / {a.hop_length}")
    singers = set(model.singers.names)
    aligned = [remade(d, reconstruct_log_mel(model, d.audio, f.parent.name, seed=i))
               for i, (f, d) in enumerate(zip(files, data)) if f.parent.name in singers]
    if not aligned:
        raise UserError(f"no training file is in a folder named after a singer of {model_path} "
                        f"({', '.join(sorted(singers))})")
    if log:
        log(f"{len(aligned)} of {len(files)} recordings and range copies also re-made by {Path(model_path).name} "
            "(its singers' folders)")
    return aligned


@dataclass
class RangeCopy(Analysis):
    """A recording re-sung outside its range: a target for the mel loss only (see the module note).

    `source`: the index of the recording it was made from, in the list given to `range_copies`."""

    source: int = -1


def range_copies(data: list[Analysis], config: Config, rng: np.random.Generator,
                 log: Callable[[str], None] | None = print) -> list[Analysis]:
    """Two envelope-keeping copies of each analysis, |U(key_shift_max, range_shift_max)| semitones up and down;
    a copy whose F0 would leave the config's F0 range is skipped."""
    from core.data.timbre_shift import fits_f0_range, range_shifts, resing_with_envelope

    a, f, top = config.audio, config.features, config.vocoder.train_range_shift_max
    mel = MelSpectrogram(a)
    pitch = pitch_extractor_from_config(f, a, "dio")
    copies = []
    for index, d in enumerate(data):
        voiced = d.f0 > 0
        for semitones in range_shifts(rng, config.train.key_shift_max, top):
            if not fits_f0_range(d.f0[voiced], semitones, f.f0_floor, f.f0_ceil):
                continue
            sung = resing_with_envelope(d.audio, a.sample_rate, a.hop_length, d.f0, voiced, semitones)
            copy = analyse(sung, mel, pitch, a.hop_length)
            copies.append(RangeCopy(copy.audio, copy.log_mel, copy.f0, index))
    if log:
        log(f"{len(copies)} range copies of {len(data)} files (mel loss only), up to {top:g} semitones")
    return copies


@dataclass
class Batch:
    log_mel: torch.Tensor  # (B, n_mels, warmup + crop), the vocoder's input
    f0: torch.Tensor       # (B, warmup + crop)
    audio: torch.Tensor    # (B, crop * hop), the target
    offset: torch.Tensor   # (B,) int64 noise index of the first sample
    target_mel: torch.Tensor  # (B, n_mels, crop): the target audio's own mel (the input's, except for re-made mels)
    fine: torch.Tensor        # (B,) bool: the STFT loss takes this crop (False for range copies)

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))


@dataclass
class AlignedAnalysis(Analysis):
    """A recording with the model's re-made mel as `log_mel`; `real_mel` is the recording's own, the mel loss's target."""

    real_mel: torch.Tensor | None = None


@dataclass
class AlignedRangeCopy(AlignedAnalysis, RangeCopy):
    """A range copy with the model's re-made mel as `log_mel`: still a target for the mel loss only."""


def remade(analysis: Analysis, model_mel: torch.Tensor) -> AlignedAnalysis:
    """`analysis` with the model's mel as the vocoder's input; a range copy stays one."""
    if isinstance(analysis, RangeCopy):
        return AlignedRangeCopy(analysis.audio, model_mel, analysis.f0, source=analysis.source, real_mel=analysis.log_mel)
    return AlignedAnalysis(analysis.audio, model_mel, analysis.f0, real_mel=analysis.log_mel)


def sample_batch(data: list[Analysis], batch: int, crop: int, warmup: int, hop: int,
                 rng: np.random.Generator) -> Batch:
    usable = [d for d in data if d.log_mel.shape[1] >= crop + 1]
    if not usable:
        raise UserError(f"every training file is shorter than {crop * hop} samples")
    lengths = np.array([d.log_mel.shape[1] for d in usable], dtype=np.float64)
    picks = rng.choice(len(usable), size=batch, p=lengths / lengths.sum())
    mels, f0s, audios, targets, fine = [], [], [], [], []
    for i in picks:
        d = usable[i]
        start = int(rng.integers(0, d.log_mel.shape[1] - crop + 1))
        first = start - warmup
        mel = d.log_mel[:, max(first, 0) : start + crop]
        f0 = d.f0[max(first, 0) : start + crop]
        if rng.random() < 0.5:
            f0 = interpolate_unvoiced(f0, f0 > 0)
        if first < 0:  # pad the warm-up with silence, as a stream starts
            mel = torch.nn.functional.pad(mel, (-first, 0), value=float(d.log_mel.min()))
            f0 = np.pad(f0, (-first, 0))
        mels.append(mel)
        real = d.real_mel if isinstance(d, AlignedAnalysis) else d.log_mel
        targets.append(real[:, start : start + crop])
        f0s.append(torch.from_numpy(np.ascontiguousarray(f0, dtype=np.float32)))
        audios.append(torch.from_numpy(d.audio[start * hop : (start + crop) * hop]))
        fine.append(not isinstance(d, RangeCopy))
    offset = torch.from_numpy(rng.integers(0, 2**31, size=batch)).to(torch.int64)
    return Batch(torch.stack(mels), torch.stack(f0s), torch.stack(audios), offset, torch.stack(targets),
                 torch.tensor(fine))


def vocoder_loss(model: BuiltinVocoderModel, batch: Batch, warmup: int, stft_loss: MultiResolutionSTFTLoss,
                 mel: MelSpectrogram) -> tuple[torch.Tensor, dict[str, float]]:
    hop = model.shape.hop_length
    state = model.initial_state(batch.f0.shape[0], batch.offset)
    audio, _ = model(batch.log_mel, batch.f0, state)
    predicted = audio[:, warmup * hop :]
    fine = batch.fine
    stft = stft_loss(predicted[fine], batch.audio[fine]) if bool(fine.any()) else predicted.new_zeros(())
    mel_l1 = (mel(predicted) - batch.target_mel).abs().mean()
    return stft + mel_l1, {"stft": stft.item(), "mel_l1": mel_l1.item()}


def train_vocoder(
    data: str | os.PathLike | Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    steps: int,
    config: Config | str = "paper",
    max_minutes: float | None = None,
    resume: bool = False,
    seed: int = 0,
    checkpoint_every: int | None = None,
    log: Callable[[str], None] | None = print,
    held_out_every: int = 10,
    init: str | os.PathLike | None = None,
    aligned_to: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> dict:
    """Train the built-in vocoder; returns a summary (steps, losses, held-out score).

    `init`: start from the built-in vocoder in this vocoder or complete model file (e.g. to train a
    model's vocoder further, then `comosvc set-vocoder`); `resume` from --out takes precedence.
    `aligned_to`: a complete model file; each training file in a folder named after one of its
    singers is also learnt from the mel that model makes of it (core.convert.reconstruction),
    so the vocoder learns the mels it will get in conversion, half the data real, half re-made;
    range copies too, each re-made from its re-sung audio.

    Stops after `steps` or `max_minutes`, whichever comes first, and always
    leaves a complete model file at `out_path`. `device`: where the steps run (a name for
    core.device.resolve_device: "cpu", "auto", "cuda", "cuda:N").
    """
    from core.device import resolve_device

    device = resolve_device(device)  # a missing GPU is refused before the files are read
    config = load_config(config) if isinstance(config, str) else config
    v, a = config.vocoder, config.audio
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_files, held_files = split_held_out(drop_oversized(find_audio_files(data), log), held_out_every)
    train_data = prepare(train_files, config)
    train_sources = list(train_files)  # the file each analysis came from (its folder names the singer)
    if config.vocoder.train_range_shift_max > 0:
        copies = range_copies(train_data, config, rng, log)
        train_data += copies
        train_sources += [train_files[c.source] for c in copies]
    if aligned_to is not None:
        train_data += aligned_analyses(aligned_to, train_sources, train_data, config, log)
    start_from = out_path if resume and Path(out_path).exists() else init
    if start_from is not None:
        vocoder = load_vocoder_file(start_from)
        if not isinstance(vocoder, BuiltinVocoder):
            raise UserError(f"{start_from} holds no built-in vocoder; cannot train on from it")
        if not vocoder.fits(a):
            raise UserError(f"{start_from}'s vocoder works at {vocoder.sample_rate} Hz / hop {vocoder.hop_length} / "
                            f"{vocoder.n_mels} mels, the config at {a.sample_rate} / {a.hop_length} / {a.n_mels}")
        model = vocoder.model
        if v.builtin_envelope_prior:  # a vocoder trained without it gets it, gated shut
            model = model.with_envelope_prior(a)
    else:
        model = BuiltinVocoderModel(BuiltinShape.from_config(a, v))
    model = model.to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=v.train_lr, weight_decay=config.train.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s / max(steps, 1), 1.0))))
    stft_loss, mel = MultiResolutionSTFTLoss().to(device), MelSpectrogram(a).to(device)
    every = checkpoint_every or config.train.checkpoint_every
    started, history, step = time.monotonic(), [], 0

    def save() -> None:
        save_vocoder(out_path, BuiltinVocoder(model), {"training": {"steps": step, "files": len(train_files)}})
        model.train()

    for step in range(1, steps + 1):
        batch = sample_batch(train_data, v.train_batch_size, v.train_crop_frames, v.train_warmup_frames,
                             a.hop_length, rng).to(device)
        loss, parts = vocoder_loss(model, batch, v.train_warmup_frames, stft_loss, mel)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        history.append(loss.item())
        if log and (step % config.train.log_every == 0 or step == 1):
            log(f"step {step} loss {history[-1]:.4f} stft {parts['stft']:.4f} mel_l1 {parts['mel_l1']:.4f} "
                f"({time.monotonic() - started:.0f} s)")
        if step % every == 0:
            save()
        if max_minutes is not None and time.monotonic() - started > max_minutes * 60:
            break
    save()
    summary = {"steps": step, "seconds": time.monotonic() - started, "first_loss": history[0],
               "last_loss": float(np.mean(history[-20:])), "train_files": len(train_files),
               "held_out_files": len(held_files)}
    if held_files:
        summary["held_out"] = evaluate_files(BuiltinVocoder(model.cpu()), held_files, config).as_dict()
        if log:
            log(f"held-out: {summary['held_out']}")
    return summary


def evaluate_files(vocoder, files: list[Path], config: Config, f0_method: str = "dio"):
    """Resynthesis score of `vocoder` over audio files (input f0 and output f0 by the same extractor)."""
    a = config.audio
    mel = MelSpectrogram(a)
    pitch = pitch_extractor_from_config(config.features, a, f0_method)
    pairs = []
    for f in files:
        ref = analyse(load_audio(f, a.sample_rate), mel, pitch, a.hop_length)
        out = vocoder.synthesize(ref.log_mel, torch.from_numpy(ref.f0)).numpy()
        pairs.append((ref, out))
    return score_resynthesis(pairs, a, mel, pitch)
