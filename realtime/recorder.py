"""Writes input and output WAVs while live, from its own thread so the worker never waits on disk."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import UserError


class StreamRecorder:
    def __init__(self, folder: str | Path, sample_rate: int) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.paths = [self.folder / "input.wav", self.folder / "output.wav"]
            self._files = [sf.SoundFile(str(p), "w", samplerate=sample_rate, channels=1, subtype="FLOAT")
                           for p in self.paths]
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise UserError(f"cannot record into {self.folder}: {exc}") from None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._thread.start()

    def push(self, input_block: np.ndarray, output_block: np.ndarray) -> None:
        """Called by the worker: hands copies to the writer thread without waiting."""
        self._queue.put((input_block.copy(), output_block.copy()))

    def close(self) -> list[str]:
        self._queue.put(None)
        self._thread.join()
        for f in self._files:
            f.close()
        return [str(p) for p in self.paths]

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            for f, block in zip(self._files, item):
                f.write(block)
