"""`comosvc corpus`: a synthetic multi-singer singing corpus from TTS speech re-sung by WORLD.

Layout: OUT/<singer>/<n>.wav (24 kHz mono, 16-bit), a sidecar OUT/<singer>/<n>.json per clip (what
makes a re-run skip it) and OUT/manifest.json gathering every clip with its intended F0 per mel frame.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from core.checkpoint import atomic_write
from core.data.corpus_render import render_clip
from core.data.corpus_singers import SINGERS, SyntheticSinger
from core.data.corpus_spec import CorpusSpec
from core.data.melody import midi_to_hz
from core.data.tts import missing_reason
from core.errors import UserError

MANIFEST_FORMAT = "comosvc-synthetic-corpus"
MANIFEST_VERSION = 1
# Bump when the rendering changes, so re-runs redo clips made by an older generator.
GENERATOR_VERSION = 2


def available_singers() -> tuple[list[SyntheticSinger], list[str]]:
    """Singers whose TTS voice works here, and one reason line per singer skipped."""
    usable, skipped = [], []
    for singer in SINGERS:
        reason = missing_reason(singer.voice)
        (skipped.append(f"{singer.name} ({reason})") if reason else usable.append(singer))
    return usable, skipped


def build_corpus(out: str | os.PathLike, spec: CorpusSpec, workers: int = 2,
                 log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict:
    spec.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    usable, skipped = available_singers()
    if not usable:
        raise UserError("no TTS voice is available; install the Debian packages flite, espeak-ng and "
                        "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts")
    if skipped:
        log("skipping singers whose voice is missing: " + "; ".join(skipped))
    singers = _chosen_singers(spec, usable)
    jobs = [(singer, index, spec, out) for singer in singers for index in range(spec.clips_per_singer)]
    todo = [job for job in jobs if not _is_done(*job)]
    log(f"{len(jobs) - len(todo)} of {len(jobs)} clips already done; rendering {len(todo)}")
    workers = max(1, min(workers, len(todo)))
    if todo:
        with _pool(workers) as pool:
            for done, line in enumerate(pool.imap_unordered(_render_job, todo, chunksize=1), start=1):
                log(f"[{done}/{len(todo)}] {line}")
    clips = [json.loads(_sidecar(out, singer, index).read_text()) for singer, index, _, _ in jobs]
    manifest = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "seed": spec.seed,
        "sample_rate": spec.sample_rate, "hop_length": spec.hop_length,
        "frame_rate": spec.sample_rate / spec.hop_length,
        "f0_convention": "frame t centred at sample t*hop + hop/2; n_frames = len(audio) // hop; 0 = unvoiced/rest",
        "singers": [_singer_entry(s) for s in singers],
        "clips": clips,
    }
    atomic_write(out / "manifest.json", lambda tmp: Path(tmp).write_text(json.dumps(manifest)))
    return {"out": str(out), "singers": len(singers), "clips": len(clips),
            "total_seconds": round(sum(c["duration"] for c in clips), 2),
            "rendered": len(todo), "skipped_singers": skipped}


def clip_seed(seed: int, singer: SyntheticSinger, index: int) -> np.random.SeedSequence:
    """Each clip's randomness depends only on (seed, singer name, index), not on N or worker order."""
    return np.random.SeedSequence([seed, zlib.crc32(singer.name.encode()), index])


def _render_job(job: tuple[SyntheticSinger, int, CorpusSpec, Path]) -> str:
    singer, index, spec, out = job
    rng = np.random.default_rng(clip_seed(spec.seed, singer, index))
    clip = render_clip(singer, rng, spec.sample_rate, spec.hop_length, spec.min_seconds, spec.max_seconds)
    wav = out / singer.name / f"{index}.wav"
    atomic_write(wav, lambda tmp: sf.write(tmp, clip.audio, spec.sample_rate, format="WAV", subtype="PCM_16"))
    entry = {
        "path": f"{singer.name}/{index}.wav", "singer": singer.name, "engine": singer.voice.engine,
        "voice": singer.voice.voice, "sentence": clip.sentence, "seed": spec.seed, "index": index,
        "generator": GENERATOR_VERSION,
        "min_seconds": spec.min_seconds, "max_seconds": spec.max_seconds,
        "duration": round(len(clip.audio) / spec.sample_rate, 4), "sample_rate": spec.sample_rate,
        "hop_length": spec.hop_length, "frame_rate": spec.sample_rate / spec.hop_length,
        "notes": [[round(n.start, 4), round(n.end, 4), n.midi] for n in clip.notes],
        "f0": [round(float(v), 2) for v in clip.f0],
    }
    # The sidecar goes last: its presence means the wav is complete.
    atomic_write(_sidecar(out, singer, index), lambda tmp: Path(tmp).write_text(json.dumps(entry)))
    return f"{entry['path']} {entry['duration']:.1f} s"


def _chosen_singers(spec: CorpusSpec, usable: list[SyntheticSinger]) -> list[SyntheticSinger]:
    """The first spec.singers usable singers, or the ones spec.names asks for, in the list's order."""
    if not spec.names:
        if spec.singers > len(usable):
            raise UserError(f"asked for {spec.singers} singers but only {len(usable)} voices are available here")
        return usable[: spec.singers]
    known = {s.name for s in SINGERS}
    unknown = [n for n in spec.names if n not in known]
    if unknown:
        raise UserError(f"no built-in singer named {', '.join(unknown)}; `comosvc corpus --list-singers` lists them")
    missing = [n for n in spec.names if n not in {s.name for s in usable}]
    if missing:
        raise UserError(f"the TTS voice of {', '.join(missing)} is not installed here")
    return [s for s in usable if s.name in spec.names]


def _is_done(singer: SyntheticSinger, index: int, spec: CorpusSpec, out: Path) -> bool:
    sidecar = _sidecar(out, singer, index)
    if not (sidecar.is_file() and (out / singer.name / f"{index}.wav").is_file()):
        return False
    try:
        entry = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    wanted = {"generator": GENERATOR_VERSION, "seed": spec.seed,
              "min_seconds": spec.min_seconds, "max_seconds": spec.max_seconds,
              "voice": singer.voice.voice, "sample_rate": spec.sample_rate, "hop_length": spec.hop_length}
    return all(entry.get(key) == value for key, value in wanted.items())


def _sidecar(out: Path, singer: SyntheticSinger, index: int) -> Path:
    return out / singer.name / f"{index}.json"


def _singer_entry(singer: SyntheticSinger) -> dict:
    return {"name": singer.name, "engine": singer.voice.engine, "voice": singer.voice.voice,
            "low_midi": singer.low_midi, "high_midi": singer.high_midi,
            "range_hz": [round(float(midi_to_hz(singer.low_midi)), 2), round(float(midi_to_hz(singer.high_midi)), 2)],
            "formant_scale": singer.formant_scale}


class _InlinePool:
    """Same interface as a Pool for the one-worker case (no process start-up, easier to debug)."""

    def __enter__(self) -> "_InlinePool":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def imap_unordered(self, func, items, chunksize: int = 1):
        return map(func, items)


def _pool(workers: int):
    if workers == 1:
        return _InlinePool()
    # spawn: the parent may hold torch threads; forking those is unsafe.
    return multiprocessing.get_context("spawn").Pool(workers)
