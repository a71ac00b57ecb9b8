"""`comosvc features FILE`: the F0 and loudness the model would be conditioned on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cli.device_flag import add_device_flag
from cli.output import add_json_flag, print_json
from core.config import available_configs, load_config
from core.errors import UserError
from core.features.pitch_settings import PITCH_METHODS

if TYPE_CHECKING:
    from core.features.pitch import PitchTrack

PLOT_FORMATS = {".png": "PNG", ".jpg": "JPG", ".jpeg": "JPG"}
SILENCE_DB = -120.0  # loudness floor in reports and plots
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "features",
        help="show the F0 and loudness of an audio file",
        description="Extract F0 (pitch) and frame loudness of an audio file at the model's frame rate "
        "and print a summary, a JSON object (--json) or a plot (--plot).",
    )
    parser.add_argument("file", help="audio file (wav, flac, ogg, mp3, ...)")
    parser.add_argument("--f0", choices=PITCH_METHODS, default=None,
                        help="pitch method (default: the config's, dio in the paper)")
    parser.add_argument("--config", default="paper", help=f"config name or YAML path ({', '.join(available_configs())})")
    add_device_flag(parser)  # used by the neural pitch methods only
    parser.add_argument("--plot", metavar="OUT.png", help="also draw F0 and loudness to this image")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    # Imported here, not at the top: every command's parser is built for `comosvc --help`, and torch takes seconds.
    from core.audio.io import check_output_folder, load_audio, require_min_length
    from core.device import resolve_device
    from core.features.loudness import frame_rms
    from core.features.pitch import pitch_extractor_from_config

    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise UserError(f"--plot needs a .png or .jpg file name, got '{args.plot}'")
    if args.plot:
        check_output_folder(Path(args.plot).parent, "--plot")  # before the analysis, not after it
    cfg = load_config(args.config)
    audio = load_audio(args.file, cfg.audio.sample_rate)
    require_min_length(audio, cfg.audio.sample_rate, args.file)
    extractor = pitch_extractor_from_config(cfg.features, cfg.audio, method=args.f0,
                                           device=resolve_device(args.device))
    track = extractor.extract(audio)
    loudness = frame_rms(audio, cfg.audio.hop_length, n_frames=len(track))
    report = summarize(track, loudness, len(audio) / cfg.audio.sample_rate, cfg.audio.frame_rate, extractor.name)
    report["file"] = str(args.file)
    if args.plot:
        draw_plot(Path(args.plot), track, loudness, cfg.audio.frame_rate, title=f"{Path(args.file).name} ({extractor.name})")
        report["plot"] = str(args.plot)
    if args.json:
        print_json(report)
    else:
        print_summary(report)
    return 0


def summarize(track: PitchTrack, loudness: np.ndarray, duration_s: float, frame_rate: float, method: str) -> dict:
    voiced_f0 = track.f0[track.voiced]
    loudness_db = to_db(loudness)
    return {
        "method": method,
        "duration_s": duration_s,
        "frame_rate": frame_rate,
        "n_frames": len(track),
        "voiced_fraction": float(track.voiced.mean()) if len(track) else 0.0,
        "median_f0_hz": float(np.median(voiced_f0)) if len(voiced_f0) else None,
        "min_f0_hz": float(voiced_f0.min()) if len(voiced_f0) else None,
        "max_f0_hz": float(voiced_f0.max()) if len(voiced_f0) else None,
        "median_loudness_db": float(np.median(loudness_db)) if len(loudness_db) else None,
        "peak_loudness_db": float(loudness_db.max()) if len(loudness_db) else None,
        "f0_hz": [round(float(v), 3) for v in track.f0],
        "voiced": [bool(v) for v in track.voiced],
        "loudness": [round(float(v), 6) for v in loudness],
    }


def print_summary(report: dict) -> None:
    print(f"file: {report['file']}")
    print(f"duration: {report['duration_s']:.2f} s, {report['n_frames']} frames at {report['frame_rate']:.2f} frames/s")
    if report["median_f0_hz"] is None:
        print(f"f0 ({report['method']}): no voiced frames")
    else:
        print(f"f0 ({report['method']}): voiced {100 * report['voiced_fraction']:.1f} % of frames, "
              f"median {report['median_f0_hz']:.1f} Hz ({note_name(report['median_f0_hz'])}), "
              f"range {report['min_f0_hz']:.1f}-{report['max_f0_hz']:.1f} Hz "
              f"({note_name(report['min_f0_hz'])}-{note_name(report['max_f0_hz'])})")
    if report["median_loudness_db"] is not None:
        print(f"loudness: median {report['median_loudness_db']:.1f} dBFS, peak {report['peak_loudness_db']:.1f} dBFS")
    if report.get("plot"):
        print(f"plot: {report['plot']}")


def to_db(rms: np.ndarray) -> np.ndarray:
    """dBFS, floored at SILENCE_DB so digital silence reads as a number, not -inf."""
    return np.maximum(20.0 * np.log10(np.maximum(np.asarray(rms, dtype=np.float64), 1e-12)), SILENCE_DB)


def note_name(freq_hz: float) -> str:
    midi = int(round(69 + 12 * np.log2(freq_hz / 440.0)))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def draw_plot(path: Path, track: PitchTrack, loudness: np.ndarray, frame_rate: float, title: str) -> None:
    """F0 (voiced frames) above loudness in dBFS, written atomically; matplotlib if present, else pyqtgraph."""
    from core.checkpoint import atomic_write

    times = np.arange(len(track)) / frame_rate
    f0 = np.where(track.voiced, track.f0, np.nan)
    loudness_db = to_db(loudness)
    fmt = PLOT_FORMATS[path.suffix.lower()]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        writer = _pyqtgraph_writer(times, f0, loudness_db, title, fmt)
    else:
        writer = _matplotlib_writer(times, f0, loudness_db, title, fmt)
    try:
        atomic_write(path, writer)
    except OSError as exc:
        raise UserError(f"cannot write plot '{path}': {exc.strerror or exc}") from None


def _loudness_range(loudness_db: np.ndarray) -> tuple[float, float]:
    """A y-range of at least 20 dB, so a steady level does not fill the plot with noise."""
    if len(loudness_db) == 0:
        return (SILENCE_DB, 0.0)
    top = float(loudness_db.max()) + 3.0
    return (min(float(loudness_db.min()) - 3.0, top - 20.0), top)


def _matplotlib_writer(times, f0, loudness_db, title: str, fmt: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def write(tmp: str) -> None:
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 5))
        top.plot(times, f0, color="tab:blue")
        top.set_ylabel("F0 (Hz)")
        top.set_title(title)
        bottom.plot(times, loudness_db, color="tab:orange")
        bottom.set_ylabel("loudness (dBFS)")
        bottom.set_xlabel("time (s)")
        bottom.set_ylim(*_loudness_range(loudness_db))
        fig.tight_layout()
        fig.savefig(tmp, format=fmt.lower().replace("jpg", "jpeg"))
        plt.close(fig)

    return write


def _pyqtgraph_writer(times, f0, loudness_db, title: str, fmt: str):
    from PyQt6.QtWidgets import QApplication

    if QApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # drawing to a file needs no screen
    import pyqtgraph as pg
    import pyqtgraph.exporters

    def write(tmp: str) -> None:
        pg.mkQApp()
        layout = pg.GraphicsLayoutWidget()
        layout.setBackground("w")
        layout.resize(1000, 500)
        top = layout.addPlot(row=0, col=0, title=title)
        top.plot(times, f0, pen=pg.mkPen("b", width=2), connect="finite")
        top.setLabel("left", "F0 (Hz)")
        bottom = layout.addPlot(row=1, col=0)
        bottom.plot(times, loudness_db, pen=pg.mkPen((230, 120, 0), width=2))
        bottom.setLabel("left", "loudness (dBFS)")
        bottom.setLabel("bottom", "time (s)")
        bottom.setXLink(top)
        bottom.setYRange(*_loudness_range(loudness_db))
        layout.setAttribute(pg.QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        layout.show()  # lay the plots out at the widget's size, never on a screen
        pg.QtWidgets.QApplication.processEvents()
        exporter = pg.exporters.ImageExporter(layout.ci)
        exporter.parameters()["width"] = 1000
        image = exporter.export(toBytes=True)
        if image is None or not image.save(tmp, fmt):
            raise OSError(f"Qt could not write a {fmt} image")
        layout.close()
        layout.deleteLater()

    return write
