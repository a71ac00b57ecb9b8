"""What a listener would judge: DNSMOS quality, whose voice it is, how far apart the singers sound.

Evaluation only (bench/bench_quality.py and its tests); nothing at run time needs it.

- DNSMOS P.835 (SIG, BAK, OVRL; 1-5, higher is better) from the ONNX models in the `speechmos`
  wheel (dev extras: speechmos, onnxruntime, librosa). It scores 16 kHz audio in 9 s windows
  and repeats shorter clips to fill one, so a 4 s clip is scored as itself, looped.
  `dnsmos_averaged` averages it over playback gains and leads of silence: the model reads both.
- Singer identification: each output's Resemblyzer embedding against every singer's centroid
  (the mean embedding of that singer's own recordings); top-1 share, mean rank (1 = best),
  and chance (1 / number of singers).
- Identification by distance: the same top-1, per band of semitones between the pitch sung and the
  singer's own median pitch (<= 5, 5-12, > 12).
- Spread: mean cosine between outputs of the same source sent to DIFFERENT singers, against
  the mean cosine between different singers' own centroids. Outputs more alike than the singers
  themselves means the singer comes through as a pitch range, not a timbre.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Sequence

import numpy as np

from core.audio.resample import resample
from core.convert.evaluate import SpeakerEmbedder, cosine
from core.errors import UserError

DNSMOS_RATE = 16000
MAX_LEAD_MS = 1000.0  # the longest lead of silence a clip is scored after
CENTROID_FILES = 5  # a singer's centroid: the mean embedding of their first 5 recordings (sorted by name)
CENTROID_SECONDS = 6.0  # each cut to this length, as the held-out sources are


def check_listening_inputs(sources: Sequence[str], shifts_ms: Sequence[float] | None) -> list[Path]:
    """The voices a listening bench reads, each a file, and its leads of silence (ms) in range."""
    paths = [Path(s) for s in sources]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"not found: {', '.join(missing)}")
    if shifts_ms and any(not 0 <= ms <= MAX_LEAD_MS for ms in shifts_ms):
        raise UserError(f"--dnsmos-shifts are leads of silence from 0 to {MAX_LEAD_MS:g} ms")
    return paths


def _dnsmos_module():
    try:
        import speechmos.dnsmos as dnsmos
    except ImportError as exc:  # an eval-only dependency: say how to get it
        raise UserError(f"DNSMOS needs the dev extras (speechmos, onnxruntime, librosa): "
                        f"pip install -e '.[dev]' ({exc})") from exc
    return dnsmos


def dnsmos(audio: np.ndarray, rate: int) -> dict[str, float]:
    """DNSMOS P.835 of one clip: {'sig', 'bak', 'ovrl', 'p808'}; silence or too short -> ValueError."""
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(audio) < rate // 10 or not np.all(np.isfinite(audio)) or float(np.max(np.abs(audio))) < 1e-5:
        raise ValueError("DNSMOS needs at least 0.1 s of finite, non-silent audio")
    clip = np.clip(resample(audio.astype(np.float32), rate, DNSMOS_RATE), -1.0, 1.0).astype(np.float64)
    scores = _dnsmos_module().run(clip, DNSMOS_RATE)
    return {"sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]),
            "ovrl": float(scores["ovrl_mos"]), "p808": float(scores["p808_mos"])}


def dnsmos_averaged(audio: np.ndarray, rate: int, gains_db: Sequence[float] = (0.0,),
                    shifts_ms: Sequence[float] = (0.0,)) -> dict:
    """DNSMOS of one clip presented several ways, averaged: played at each gain (dB; clipped at full
    scale) after each lead of silence (ms). {'sig', 'bak', 'ovrl', 'p808', 'ovrl_by_presentation'}.

    DNSMOS reads the waveform's level and where its analysis frames fall: one clip moves by up to 0.4
    OVRL between -12 and +6 dB, and by up to 0.5 when it starts 4 ms later. The mean over several
    presentations is the clip's score, not its level's or its start's."""
    if not gains_db or not shifts_ms:
        raise ValueError("at least one gain and one shift are needed")
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    scores = {}
    for gain in gains_db:
        played = np.clip(audio * 10.0 ** (float(gain) / 20.0), -1.0, 1.0)
        for shift in shifts_ms:
            lead = np.zeros(int(round(float(shift) * rate / 1000.0)))
            scores[f"{float(gain):+g} dB, {float(shift):g} ms"] = dnsmos(np.concatenate([lead, played]), rate)
    mean = {key: float(np.mean([s[key] for s in scores.values()])) for key in ("sig", "bak", "ovrl", "p808")}
    return {**mean, "ovrl_by_presentation": {name: s["ovrl"] for name, s in scores.items()}}


def singer_recordings(folder: Path) -> list[Path]:
    """A singer's .wav files in the order the judge takes them (by name)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav")


def singer_centroid(embedder, recordings: Sequence[np.ndarray], rate: int) -> np.ndarray:
    """The judge's point for one singer: the mean embedding of their first CENTROID_FILES recordings."""
    return SpeakerEmbedder.mean_embedding([embedder.embed(a, rate) for a in recordings[:CENTROID_FILES]])


def singer_centroids(embedder, targets_dir: str | Path, singers: Sequence[str], rate: int) -> dict[str, np.ndarray]:
    """Centroids of the singers with recordings in targets_dir/<singer>/*.wav (others are left out).

    Each recording is read at `rate` and cut to CENTROID_SECONDS.
    """
    from core.audio.io import load_audio

    folder = Path(targets_dir)
    if not folder.is_dir():
        raise UserError(f"targets folder not found: {folder}")
    centroids = {}
    for singer in singers:
        files = singer_recordings(folder / singer) if (folder / singer).is_dir() else []
        if files:
            clips = [load_audio(p, rate)[: int(CENTROID_SECONDS * rate)] for p in files[:CENTROID_FILES]]
            centroids[singer] = singer_centroid(embedder, clips, rate)
    if len(centroids) < 2:
        raise UserError(f"{folder} has recordings of {len(centroids)} of the model's singers; "
                        "identification needs at least 2")
    return centroids


def singer_ranks(output_embedding: np.ndarray, centroids: dict[str, np.ndarray]) -> list[str]:
    """The singers ordered from nearest to farthest (cosine) to one output."""
    return sorted(centroids, key=lambda name: -cosine(output_embedding, centroids[name]))


def singer_identification(outputs: Sequence[tuple[str, np.ndarray]], centroids: dict[str, np.ndarray]) -> dict:
    """outputs: (asked-for singer, output embedding) pairs. Top-1 share, mean rank and chance."""
    if len(centroids) < 2 or not outputs:
        return {"top1": None, "mean_rank": None, "chance": None, "n": len(outputs)}
    ranks = [singer_ranks(embedding, centroids).index(asked) + 1 for asked, embedding in outputs]
    return {"top1": float(np.mean([r == 1 for r in ranks])), "mean_rank": float(np.mean(ranks)),
            "chance": 1.0 / len(centroids), "chance_mean_rank": (len(centroids) + 1) / 2.0, "n": len(ranks)}


# Semitones between what is sung and the singer's own median pitch: the edges of the bands that
# identification is broken down by. Range copies (core/data/timbre_shift.py) reach 12.
DISTANCE_EDGES = (5.0, 12.0)


def distance_bands(edges: Sequence[float] = DISTANCE_EDGES) -> list[str]:
    """The bands' names, nearest first: '<=5', '5-12', '>12' for the default edges."""
    lows = [0.0, *edges[:-1]]
    return [f"<={e:g}" if low == 0.0 else f"{low:g}-{e:g}" for low, e in zip(lows, edges)] + [f">{edges[-1]:g}"]


def distance_band(semitones: float, edges: Sequence[float] = DISTANCE_EDGES) -> str:
    """The band of an (absolute) distance in semitones."""
    names = distance_bands(edges)
    return names[next((i for i, edge in enumerate(edges) if abs(float(semitones)) <= edge), len(edges))]


def identification_by_distance(outputs: Sequence[tuple[str, np.ndarray, float]],
                               centroids: dict[str, np.ndarray]) -> dict[str, dict]:
    """outputs: (asked-for singer, embedding, semitones from the singer's own median pitch). Top-1 per band,
    nearest band first: Resemblyzer hears pitch as part of a voice, so a bass sung at a soprano's pitch
    is a harder case than one sung in the bass's own range."""
    bands: dict[str, list] = {}
    for asked, embedding, semitones in outputs:
        bands.setdefault(distance_band(semitones), []).append((asked, embedding))
    return {band: singer_identification(bands[band], centroids) for band in distance_bands() if band in bands}


def identification_by_singer(outputs: Sequence[tuple[str, np.ndarray]],
                             centroids: dict[str, np.ndarray]) -> dict[str, dict]:
    """outputs: (asked-for singer, output embedding) pairs. Per asked-for singer: how often it was the
    nearest (`top1` of `n`) and whom its misses were heard as (`heard_as`, most often first): a pooled top-1
    hides a singer that is never found, and which singer takes its conversions."""
    return tally_by_singer([(asked, singer_ranks(embedding, centroids)[0]) for asked, embedding in outputs])


def tally_by_singer(asked_and_heard: Sequence[tuple[str, str]]) -> dict[str, dict]:
    """(asked-for singer, singer heard) pairs -> per asked-for singer, sorted: `top1` of `n`, and
    `heard_as`, the misses by singer heard, most often first."""
    by_singer: dict[str, dict] = {}
    for asked, heard in asked_and_heard:
        row = by_singer.setdefault(asked, {"top1": 0, "n": 0, "heard_as": {}})
        row["n"] += 1
        if heard == asked:
            row["top1"] += 1
        else:
            row["heard_as"][heard] = row["heard_as"].get(heard, 0) + 1
    for row in by_singer.values():
        row["heard_as"] = dict(sorted(row["heard_as"].items(), key=lambda item: (-item[1], item[0])))
    return dict(sorted(by_singer.items()))


def _mean_pairwise_cosine(vectors: Sequence[np.ndarray]) -> float | None:
    pairs = [cosine(a, b) for a, b in itertools.combinations(vectors, 2)]
    return float(np.mean(pairs)) if pairs else None


def spread(outputs_by_source: dict[str, dict[str, np.ndarray]], centroids: dict[str, np.ndarray]) -> dict:
    """Mean cosine between one source's outputs for different singers vs between the singers themselves."""
    per_source = [_mean_pairwise_cosine(list(by_singer.values())) for by_singer in outputs_by_source.values()]
    per_source = [v for v in per_source if v is not None]
    return {"outputs_cosine": float(np.mean(per_source)) if per_source else None,
            "singers_cosine": _mean_pairwise_cosine(list(centroids.values()))}
