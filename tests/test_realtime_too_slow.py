"""A machine too slow for a preset is told which preset keeps up; engine messages are never lost to the cap."""

import re
import time

import numpy as np

from realtime.converter import ConvertResult
from realtime.engine import TOO_SLOW_NOTICE, Engine
from realtime.presets import load_preset, preset_keeping_up
from realtime.simulator import SimulatedBackend
from realtime.snapshot import MESSAGES_KEPT, new_messages
from realtime.standin import StandInConverter
from tests.test_realtime_engine import RATE, sung


class TimedConverter(StandInConverter):
    """Plays its input back after `delay_ms`: a converter that takes that long a block and nothing more
    (the stand-in's own WORLD analysis would add its cost on top)."""

    def __init__(self, delay_ms: float) -> None:
        super().__init__()
        self.delay_s = delay_ms / 1000.0

    def convert(self, window, out_start, out_len, controls):
        time.sleep(self.delay_s)
        frames = max(1, out_len // self.hop_length)
        return ConvertResult(window[out_start:out_start + out_len].copy(), np.zeros(frames), np.zeros(frames))


def _run(delay_ms: float, preset: str, seconds: float = 3.0, **backend_kwargs) -> tuple[Engine, list[str]]:
    """The engine after the run, and every message it posted."""
    # No fixed compute time: the simulated worker takes what each block really took, as on a device.
    backend = SimulatedBackend(sung(seconds), samplerate=RATE, blocksize=256, **backend_kwargs)
    engine = Engine(TimedConverter(delay_ms), load_preset(preset), backend)
    posted, post = [], engine._post
    engine._post = lambda message: (posted.append(message), post(message))
    backend.run(engine)
    assert backend.error is None
    return engine, posted


def test_the_shortest_builtin_blocks_with_headroom_are_named():
    assert preset_keeping_up(10.0).name == "low-latency"  # 20 ms blocks >= 1.3 x 10
    assert preset_keeping_up(25.0).name == "balanced"  # 20 ms is too short, 40 ms is enough
    assert preset_keeping_up(50.0).name == "safe"
    assert preset_keeping_up(100.0) is None  # not even 100 ms blocks


def test_blocks_slower_than_the_preset_are_advised_a_longer_preset():
    engine, posted = _run(22.0, "low-latency")  # 22 ms of work per 20 ms block: it can only fall behind
    assert engine.xruns + engine.drops > 0
    advice = engine.too_slow_advice
    assert advice is not None and advice.startswith(f"{TOO_SLOW_NOTICE} 'low-latency'")
    median = float(re.search(r"take (\d+) ms each", advice).group(1))
    assert median >= 21.5  # what the blocks took, at least the converter's own 22 ms (rounded)
    named = load_preset(re.search(r"try the '([^']+)' preset", advice).group(1))
    # the shortest built-in blocks 1.3 x the median (which the message rounds): 40 ms ones, or 100 ms ones
    # where a busy machine made the median over 30.8 ms
    assert named.name in {preset_keeping_up(median + d).name for d in (-0.5, 0.5)} <= {"balanced", "safe"}
    assert posted.count(advice) == 1  # said once, not at every drop


def test_a_stall_on_a_fast_enough_machine_gets_no_advice():
    # 5 ms of work per 20 ms block, with the machine stalled for 300 ms twice: xruns, but the preset keeps up
    engine, posted = _run(5.0, "low-latency", stalls=[(300.0, 1.0), (300.0, 2.0)])
    assert engine.xruns + engine.drops > 0
    assert engine.too_slow_advice is None
    assert not any(m.startswith(TOO_SLOW_NOTICE) for m in posted)


def test_messages_past_the_cap_are_all_told_once():
    # (the worker publishes a snapshot after each block; here it is made by hand, with no blocks running)
    engine = Engine(StandInConverter(), load_preset("balanced"), SimulatedBackend(np.zeros(RATE), samplerate=RATE))
    seen = engine._make_snapshot().messages_posted
    for i in range(3):
        engine.report(f"first {i}")
    fresh, seen = new_messages(engine._make_snapshot(), seen)
    assert fresh == ["first 0", "first 1", "first 2"]
    for i in range(MESSAGES_KEPT + 5):  # more than the snapshot keeps: the oldest are gone, the newest all come
        engine.report(f"burst {i}")
    fresh, seen = new_messages(engine._make_snapshot(), seen)
    assert fresh == [f"burst {i}" for i in range(5, MESSAGES_KEPT + 5)]
    engine.report("after the cap")  # the snapshot's tuple no longer grows; the new message still comes
    fresh, seen = new_messages(engine._make_snapshot(), seen)
    assert fresh == ["after the cap"]
    assert new_messages(engine._make_snapshot(), seen)[0] == []


def test_simulate_says_which_preset_keeps_up(tmp_path, monkeypatch, capsys):
    import json

    import cli.commands.simulate as simulate_command
    from cli.main import main
    from core.audio.io import save_audio

    source = tmp_path / "sung.wav"
    save_audio(source, sung(3.0), RATE)
    monkeypatch.setattr(simulate_command, "make_converter", lambda *args: TimedConverter(22.0))
    assert main(["simulate", str(source), "--preset", "low-latency", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert [n for n in notes if n.startswith(f"{TOO_SLOW_NOTICE} 'low-latency'") and "try the '" in n]
