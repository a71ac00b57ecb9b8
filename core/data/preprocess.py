"""`comosvc preprocess DATA OUT`: a corpus folder -> the feature cache training reads (cache.py).

DATA/<singer>/**/*.<any soundfile format>. Every file is sliced on silence
(streaming, slicing.py), each slice resampled to 24 kHz and peak-normalised
to 0.95, slices shorter than 2.1 s skipped with a reason. Per clip: mel, F0
(gaps filled), loudness and the content features (see cache.py), plus the
paper's augmentation copies for training clips: one key shift U(-5, 5)
semitones (shifted mel and F0) and one volume gain; with train.range_shift_max
set, two more re-sung far up and down with the singer's own envelope
(timbre_shift.py). Two clips per singer are
kept for validation. Re-running skips sources already done (same size and
mtime, files present) and forgets the clips of sources no longer in DATA; a
failing source is reported and skipped.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf
import torch

from core.audio.io import check_output_folder
from core.audio.truncation import check_not_truncated
from core.audio.mel import MelSpectrogram, mel_frame_count
from core.audio.resample import resample
from core.config import Config
from core.data.cache import CACHE_FORMAT, ClipFeatures, read_manifest, save_clip, write_manifest
from core.data.timbre_shift import range_shifts
from core.data.slicing import SliceSettings, find_segments, frame_energy, read_segment
from core.errors import UserError
from core.features.loudness import frame_rms
from core.features.pitch import interpolate_unvoiced, pitch_extractor_from_config, shift_f0

MIN_SECONDS = 2.1
PEAK = 0.95
VAL_PER_SINGER = 2


def audio_extensions() -> set[str]:
    exts = {"." + name.lower() for name in sf.available_formats()}
    return exts | {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".opus"}


def find_corpus(data: str | os.PathLike) -> dict[str, list[Path]]:
    """{singer: sorted audio files} for DATA/<singer>/...; singers without audio are left out."""
    root = Path(data)
    if not root.is_dir():
        raise UserError(f"{data} is not a folder (expected DATA/<singer>/*.wav)")
    exts = audio_extensions()
    corpus = {}
    for singer_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in singer_dir.rglob("*") if p.is_file() and p.suffix.lower() in exts)
        if files:
            corpus[singer_dir.name] = files
    if not corpus:
        raise UserError(f"{data} has no singer folders with audio files (expected DATA/<singer>/*.wav)")
    return corpus


def ignored_files(data: str | os.PathLike) -> list[str]:
    """Files (relative to DATA) that preprocessing leaves out: not audio, or not inside a singer folder."""
    root = Path(data)
    exts = audio_extensions()
    ignored = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    for singer_dir in (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        ignored += [p for p in singer_dir.rglob("*")
                    if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in exts]
    return sorted(p.relative_to(root).as_posix() for p in ignored)


def ignored_summary(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    listed = ", ".join(names[:shown])
    return f"ignored {len(names)} file(s) that are not audio files inside DATA/<singer>/: {listed}{more}"


class FeatureExtractor:
    """Everything computed per clip, with the models loaded once."""

    def __init__(self, cfg: Config, f0_method: str | None = None, content_path: str | None = None,
                 perturb_copies: int = 1) -> None:
        from core.features.content import content_encoder_for

        a, f = cfg.audio, cfg.features
        self.cfg = cfg
        self.mel = MelSpectrogram(a)
        self.pitch = pitch_extractor_from_config(f, a, f0_method or f.f0_method)
        self.builtin = content_path is None and f.content_encoder == "builtin"
        self.encoder = None if self.builtin else content_encoder_for(cfg, content_path)
        self.perturb_copies = perturb_copies

    def __call__(self, audio: np.ndarray, seed: int) -> ClipFeatures:
        a = self.cfg.audio
        frames = mel_frame_count(len(audio), a.hop_length)
        with torch.no_grad():
            mel = self.mel(audio).numpy()
        track = self.pitch.extract(audio, frames)
        f0 = interpolate_unvoiced(track.f0, track.voiced).astype(np.float32)
        clip = ClipFeatures(mel=mel, f0=f0, voiced=track.voiced.astype(bool),
                            loudness=np.asarray(frame_rms(audio, a.hop_length, frames), dtype=np.float32))
        if self.builtin:
            clip.mel_perturbed = np.stack([self._perturbed_mel(audio, seed * 1000 + k) for k in range(self.perturb_copies)])
        else:
            with torch.no_grad():
                clip.content = self.encoder.encode(torch.from_numpy(audio), frames).float().numpy()
        return clip

    def _perturbed_mel(self, audio: np.ndarray, seed: int) -> np.ndarray:
        from core.features.perturb import PerturbSettings, perturb_audio

        generator = torch.Generator().manual_seed(seed)
        perturbed = np.asarray(perturb_audio(audio, self.cfg.audio.sample_rate, PerturbSettings.from_config(self.cfg),
                                             generator), dtype=np.float32)
        with torch.no_grad():
            return self.mel(perturbed).numpy()

    def key_copy(self, audio: np.ndarray, clip: ClipFeatures, semitones: float) -> ClipFeatures:
        with torch.no_grad():
            mel = self.mel(audio, key_shift=semitones).numpy()
        return ClipFeatures(mel=mel, f0=shift_f0(clip.f0, semitones).astype(np.float32), voiced=clip.voiced,
                            loudness=clip.loudness, key_shift=semitones, content=clip.content,
                            mel_perturbed=clip.mel_perturbed)

    def range_copy(self, audio: np.ndarray, clip: ClipFeatures, semitones: float) -> ClipFeatures | None:
        """The clip re-sung `semitones` away with its own envelope (timbre_shift.py); None if out of F0 range."""
        from core.data.timbre_shift import fits_f0_range, resing_with_envelope

        a, f = self.cfg.audio, self.cfg.features
        if not fits_f0_range(clip.f0[clip.voiced], semitones, f.f0_floor, f.f0_ceil):
            return None
        sung = resing_with_envelope(audio, a.sample_rate, a.hop_length, clip.f0, clip.voiced, semitones)
        frames = clip.frames
        with torch.no_grad():
            mel = self.mel(sung).numpy()
        track = self.pitch.extract(sung, frames)
        # The words did not change, so the content inputs are the original's; the formants did not
        # move either, so the key-shift condition stays 0.
        return ClipFeatures(mel=mel, f0=interpolate_unvoiced(track.f0, track.voiced).astype(np.float32),
                            voiced=track.voiced.astype(bool),
                            loudness=np.asarray(frame_rms(sung, a.hop_length, frames), dtype=np.float32),
                            key_shift=0.0, content=clip.content, mel_perturbed=clip.mel_perturbed)

    def volume_copy(self, audio: np.ndarray, clip: ClipFeatures, gain_db: float) -> ClipFeatures:
        gain = 10 ** (gain_db / 20)
        with torch.no_grad():
            mel = self.mel(audio * gain).numpy()
        return ClipFeatures(mel=mel, f0=clip.f0, voiced=clip.voiced, loudness=clip.loudness * gain,
                            key_shift=0.0, content=clip.content, mel_perturbed=clip.mel_perturbed)


def _seed_of(text: str, seed: int) -> int:
    return (zlib.crc32(text.encode()) + seed * 7919) % (2**31)


def process_source(path: Path, singer: str, rel: str, out: Path, extractor: FeatureExtractor, seed: int,
                   slicing: SliceSettings) -> tuple[list[dict[str, Any]], list[str]]:
    """Slice one file and write its clips; (clip records, reasons for skipped slices)."""
    cfg = extractor.cfg
    sr = cfg.audio.sample_rate
    check_not_truncated(path)  # libsndfile would read a cut-off WAV as a shorter one
    envelope, frame, rate = frame_energy(path)
    duration = sf.info(str(path)).frames / rate  # the envelope rounds a partial last frame up
    if duration < MIN_SECONDS:
        return [], [f"shorter than {MIN_SECONDS} s ({duration:.2f} s)"]
    segments = find_segments(envelope, frame, rate, slicing)
    if not segments:
        return [], ["silent (no sound above the silence threshold)"]
    stem = rel.replace("/", "__").rsplit(".", 1)[0]
    records, reasons = [], []
    for index, segment in enumerate(segments):
        audio = np.asarray(resample(read_segment(path, segment), rate, sr), dtype=np.float32)
        seconds = len(audio) / sr
        if seconds < MIN_SECONDS:
            reasons.append(f"slice {index} shorter than {MIN_SECONDS} s ({seconds:.2f} s)")
            continue
        peak = float(np.max(np.abs(audio)))
        if peak <= 1e-6:
            reasons.append(f"slice {index} silent")
            continue
        audio = audio * (PEAK / peak)
        clip_id = f"{singer}/{stem}_{index:03d}"
        clip_seed = _seed_of(clip_id, seed)
        rng = np.random.default_rng(clip_seed)
        base = extractor(audio, clip_seed)
        shift = float(rng.uniform(-cfg.train.key_shift_max, cfg.train.key_shift_max))
        headroom = 20 * np.log10(1.0 / PEAK)
        gain = float(rng.uniform(-cfg.train.volume_gain_db, min(cfg.train.volume_gain_db, headroom)))
        # (augment, features, key-shift condition, gain dB, F0 shift in semitones)
        copies = [("none", base, 0.0, 0.0, 0.0), ("key", extractor.key_copy(audio, base, shift), shift, 0.0, shift),
                  ("volume", extractor.volume_copy(audio, base, gain), 0.0, gain, 0.0)]
        if cfg.train.range_shift_max > 0:  # drawn last, so caches without these copies keep their draws
            for name, semitones in zip(("range_up", "range_down"),
                                       range_shifts(rng, cfg.train.key_shift_max, cfg.train.range_shift_max)):
                copy = extractor.range_copy(audio, base, semitones)
                if copy is not None:
                    copies.append((name, copy, 0.0, 0.0, semitones))
        for augment, clip, key_shift, gain_db, f0_shift in copies:
            suffix = "" if augment == "none" else f"_{augment}"
            file = Path("clips") / singer / f"{stem}_{index:03d}{suffix}.npz"
            save_clip(out / file, clip)
            records.append({"id": clip_id + suffix, "base": clip_id, "singer": singer, "file": str(file),
                            "frames": clip.frames, "augment": augment, "key_shift": key_shift, "gain_db": gain_db,
                            "f0_shift": f0_shift,
                            "source": rel, "split": "train"})
    return records, reasons


def assign_split(clips: list[dict[str, Any]], per_singer: int = VAL_PER_SINGER) -> None:
    """Mark `per_singer` original clips per singer (stable: by hash of the id) and their copies as "val"."""
    by_singer: dict[str, list[str]] = {}
    for c in clips:
        if c["augment"] == "none":
            by_singer.setdefault(c["singer"], []).append(c["base"])
    val = set()
    for bases in by_singer.values():
        if len(bases) > per_singer:  # a singer with too few clips keeps them all for training
            val.update(sorted(bases, key=lambda b: hashlib.md5(b.encode()).hexdigest())[:per_singer])
    for c in clips:
        c["split"] = "val" if c["base"] in val else "train"


def preprocess(data: str | os.PathLike, out: str | os.PathLike, cfg: Config, f0_method: str | None = None,
               content_path: str | None = None, seed: int = 0, perturb_copies: int = 1,
               slicing: SliceSettings = SliceSettings(), progress: bool = True,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build or update the cache in OUT; returns a summary (clips, singers, skipped)."""
    from tqdm import tqdm

    corpus = find_corpus(data)
    check_output_folder(out, "cache folder")
    ignored = ignored_files(data)
    if ignored:
        log(ignored_summary(ignored))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    builtin = content_path is None and cfg.features.content_encoder == "builtin"
    settings = {"format_version": CACHE_FORMAT, "config": cfg.name, "sample_rate": cfg.audio.sample_rate,
                "hop_length": cfg.audio.hop_length, "n_mels": cfg.audio.n_mels,
                "content": "builtin" if builtin else "frozen", "content_dim": cfg.features.content_dim,
                "f0_method": f0_method or cfg.features.f0_method, "content_path": content_path,
                "range_shift_max": cfg.train.range_shift_max}
    sources: dict[str, Any] = {}
    if (out / "manifest.json").exists():
        try:
            old = read_manifest(out)
            if all(old.get(k) == v for k, v in settings.items()):
                sources = old.get("sources", {})
            else:
                log(f"{out}: settings changed since the last run; recomputing every file")
        except UserError as exc:
            log(f"{exc}; starting over")
    if len(corpus) == 1:
        log(f"warning: only one singer ({next(iter(corpus))}); the model will train but cannot convert between "
            "singers, and the speaker probe and adversary need at least two")
    extractor: FeatureExtractor | None = None
    jobs = [(singer, f) for singer, files in corpus.items() for f in files]
    root = Path(data)
    present = {path.relative_to(root).as_posix() for _, path in jobs}
    removed = {rel: entry for rel, entry in sources.items() if rel not in present}
    sources = {rel: entry for rel, entry in sources.items() if rel in present}
    if removed:
        log(f"{len(removed)} file(s) no longer in the corpus; their clips were removed from the cache")
    for singer, path in tqdm(jobs, desc="preprocess", unit="file", disable=not progress):
        rel = path.relative_to(root).as_posix()
        stat = path.stat()
        done = sources.get(rel)
        if done and done["size"] == stat.st_size and done["mtime"] == stat.st_mtime and all(
                (out / c["file"]).exists() for c in done["clips"]):
            continue
        if extractor is None:
            extractor = FeatureExtractor(cfg, f0_method, content_path, perturb_copies)
        try:
            clips, reasons = process_source(path, singer, rel.split("/", 1)[1], out, extractor, seed, slicing)
        except UserError as exc:
            clips, reasons = [], [str(exc)]
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the corpus
            clips, reasons = [], [f"failed: {type(exc).__name__}: {exc}"]
        for reason in reasons:
            log(f"skipped {rel}: {reason}")
        sources[rel] = {"size": stat.st_size, "mtime": stat.st_mtime, "clips": clips, "skipped": reasons}
        _write(out, settings, corpus, sources)
    manifest = _write(out, settings, corpus, sources)
    _delete_clip_files(removed, out)  # only once no written manifest lists them
    train = [c for c in manifest["clips"] if c["split"] == "train"]
    if not train:
        raise UserError(f"no usable clips in {data}: every file was skipped (see the messages above)")
    summary = {"singers": manifest["singers"], "clips": len([c for c in manifest["clips"] if c["augment"] == "none"]),
               "train_clips": len(train), "val_clips": len(manifest["clips"]) - len(train),
               "train_seconds": sum(c["frames"] for c in train if c["augment"] == "none") * cfg.audio.hop_length
               / cfg.audio.sample_rate, "skipped": manifest["skipped"]}
    return summary


def _delete_clip_files(sources: dict[str, Any], out: Path) -> None:
    """The cached clips of files that left the corpus: kept, they would be a singer the cache no longer lists."""
    for entry in sources.values():
        for clip in entry["clips"]:
            (out / clip["file"]).unlink(missing_ok=True)


def _write(out: Path, settings: dict, corpus: dict[str, list[Path]], sources: dict[str, Any]) -> dict[str, Any]:
    clips = [c for s in sources.values() for c in s["clips"]]
    assign_split(clips)
    singers = [s for s in corpus if any(c["singer"] == s for c in clips)]
    skipped = [{"path": rel, "reason": r} for rel, s in sources.items() for r in s["skipped"]]
    manifest = {**settings, "singers": singers, "clips": clips, "sources": sources, "skipped": skipped}
    write_manifest(out, manifest)
    return manifest
