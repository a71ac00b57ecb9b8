"""Adaptive latency: down after a slow start, up only when blocks keep arriving late, always aligned."""

import numpy as np
from scipy.ndimage import minimum_filter1d

from realtime.adaptive_latency import QUIET_WAIT_S, WINDOW_S
from realtime.converter import ConvertResult
from realtime.presets import load_preset
from realtime.simulate import simulate
from realtime.standin import StandInConverter

RATE = 48000
COMPUTE_MS = 8.0  # modelled worker time per block: deadlines independent of the machine's load


class DelayConverter:
    """Converts nothing: returns its region of the window, so the output is the input exactly
    `lookahead` later and the offline conversion is the input itself (exact alignment checks)."""

    description, sample_rate, hop_length = "delay", 24000, 128
    singers, f0_methods = ["same"], ["dio"]
    uses_sola, extra_latency_samples = False, 0

    def prepare(self, block, context, lookahead):
        pass

    def reset(self):
        pass

    def convert(self, window, out_start, out_len, controls):
        frames = max(1, out_len // self.hop_length)
        return ConvertResult(window[out_start:out_start + out_len].copy(), np.zeros(frames), np.zeros(frames))


def tone(seconds: float, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * f0 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    return sum(0.2 / k * np.sin(k * phase) for k in range(1, 6)).astype(np.float32)


def phrases(count: int) -> np.ndarray:
    """1.5 s phrases with 0.5 s pauses, as singing has."""
    return np.concatenate([np.concatenate([tone(1.5, 200.0 + 20 * i), np.zeros(RATE // 2, np.float32)])
                           for i in range(count)])


def run(audio, converter=None, **kwargs):
    """simulate() with a log of (input seconds, xruns, drops) per block."""
    log, engines = [], []

    def watch(engine):
        engines.append(engine)
        original = engine.compute_block

        def compute():
            log.append((engine._in_pos / 24000, engine.xruns, engine.drops))
            return original()
        engine.compute_block = compute

    kwargs.setdefault("compute_ms", COMPUTE_MS)
    report, played = simulate(converter or DelayConverter(), load_preset("balanced"), audio, RATE, 256,
                              on_engine=watch, **kwargs)
    return report, played, engines[0], np.array(log)


def assert_aligned_after(played, audio, engine, from_s):
    """From `from_s` (input time) on, the output is the input at exactly the final latency, away from
    the phrases' edges (where the gate's attack and the silence fades shape it)."""
    d = engine.latency_samples
    start = int(from_s * RATE)
    n = min(len(audio), len(played) - d) - start
    interior = minimum_filter1d((audio != 0).astype(np.int8), size=int(0.06 * RATE)).astype(bool)
    expected, got = audio[start:start + n], played[start + d:start + d + n]
    mask = interior[start:start + n]
    assert mask.sum() > RATE // 2
    assert np.max(np.abs(got[mask] - expected[mask])) < 1e-3


def test_latency_comes_down_after_a_slow_start_to_what_a_quiet_start_settles_at():
    audio = phrases(5)
    quiet, _, _, _ = run(audio)
    slow, played, engine, log = run(audio, slow_start=(300.0, 2.0))  # a busy CPU for the first 2 s
    assert slow.initial_latency_ms > quiet.initial_latency_ms + 30
    downs = [c for c in slow.latency_changes if c["reason"] == "down"]
    assert downs and slow.latency_changes[-1] == downs[-1]
    settled = downs[-1]["at_s"]
    assert settled < 2.0 + WINDOW_S + 1.0  # in the first pause after the window
    assert abs(slow.latency_ms - quiet.latency_ms) < 3.0
    # what the status bar shows is what the output really has
    assert engine.snapshot().latency_ms == slow.latency_ms
    assert abs(slow.measured_latency_ms - slow.latency_ms) < 2.0
    # no xrun and no drop after settling, and nothing replayed: the tail is the input, aligned
    after = log[log[:, 0] > settled + 0.1]
    assert len(after) > 20 and np.all(after[:, 1] == after[0, 1]) and np.all(after[:, 2] == after[0, 2])
    assert_aligned_after(played, audio, engine, settled + 0.2)


def test_without_a_pause_it_comes_down_with_a_crossfade_not_a_click():
    audio = tone(2.0 + WINDOW_S + QUIET_WAIT_S + 2.0)
    report, played, engine, _ = run(audio, slow_start=(300.0, 2.0))
    down = [c for c in report.latency_changes if c["reason"] == "down"]
    assert down and down[-1]["at_s"] >= 2.0 + WINDOW_S + QUIET_WAIT_S - 0.5
    assert abs(report.measured_latency_ms - report.latency_ms) < 2.0
    at = int((down[-1]["at_s"]) * RATE)
    around = played[at:at + RATE // 2 + engine.latency_samples]
    # the seam: a crossfade over a 5 ms skip; a step would be of the order of the signal (0.2-0.4)
    assert np.max(np.abs(np.diff(around, 2))) < 2.0 * np.max(np.abs(np.diff(audio, 2)))
    assert_aligned_after(played, audio, engine, down[-1]["at_s"] + 0.3)


def test_one_stall_drops_but_keeps_the_latency():
    audio = phrases(3)
    report, played, engine, _ = run(audio, stalls=[(250.0, 2.1)])
    assert report.drops >= 1 and report.xruns > 0
    assert not [c for c in report.latency_changes if c["reason"] == "up"]


def test_a_worker_that_stays_slower_raises_the_latency_once_and_stays_aligned():
    audio = phrases(3)
    busy = [(25.0, 2.0 + 0.04 * i) for i in range(100)]  # 33 ms of 40 per block from 2 s to 6 s
    report, played, engine, log = run(audio, stalls=busy)
    ups = [c for c in report.latency_changes if c["reason"] == "up"]
    assert ups and ups[0]["at_s"] < 3.0
    assert any("latency raised" in m for m in engine.snapshot().messages)
    settled = report.latency_changes[-1]["at_s"]
    assert settled < 4.0 and report.latency_ms == ups[-1]["latency_ms"]
    after = log[log[:, 0] > settled + 0.1]
    assert np.all(after[:, 1] == after[0, 1])  # no xrun once raised
    assert abs(report.measured_latency_ms - report.latency_ms) < 2.0
    assert_aligned_after(played, audio, engine, settled + 0.3)
    assert engine.snapshot().latency_changes == len(report.latency_changes)


def test_a_worker_slower_than_real_time_never_raises_the_latency_past_its_ceiling():
    report, _, engine, _ = run(tone(3.0), compute_ms=None, slow_start=None, stalls=[(45.0, 0.5 + 0.04 * i)
                                                                                   for i in range(50)])
    ceiling = engine._controller.ceiling
    assert engine.latency_samples <= ceiling and report.drops > 0


def test_stand_in_output_stays_aligned_with_offline_after_coming_down():
    preset = "low-latency"
    audio = phrases(4)
    report, _ = simulate(StandInConverter(), load_preset(preset), audio, RATE, 256, compute_ms=COMPUTE_MS,
                         slow_start=(200.0, 1.5))
    assert [c for c in report.latency_changes if c["reason"] == "down"]
    # compared after the change: the stand-in re-synthesises each window with its own pulse phase, so
    # SOLA may shift by up to its search window (the tolerance of test_realtime_engine's comparison)
    assert report.offline_logmel_distance < 0.15
    assert abs(report.offline_lag_samples) <= load_preset(preset).samples("sola_search_ms", 24000) + 130


def test_simulate_command_slow_start_errors_are_one_line(tmp_path, capsys):
    from cli.main import main

    for bad in ("lots", "-5@1", "nan@2"):
        assert main(["simulate", str(tmp_path / "in.wav"), f"--slow-start={bad}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("comosvc simulate: error:") and "slow start" in line for line in err)


def test_controller_waits_a_window_prefers_silence_and_raises_only_on_repeated_lateness():
    from realtime.adaptive_latency import LATE_BLOCKS, LatencyController

    rate, block_s = 48000, 0.04
    ctl = LatencyController(rate, initial=9600, floor=2400, ceiling=12000, margin_s=0.01)
    slack, compute = 9600 - 4800, 0.008  # 100 ms ahead of need; the headroom is 10 + 4 ms = 672 samples
    t = 0.0
    while t < WINDOW_S + 0.5:  # a full window, but never silent: no change yet
        assert ctl.observe(t, slack, compute, silent=False) == 0
        t += block_s
    change = ctl.observe(t, slack, compute, silent=True)  # the first silent block
    assert change == -(slack - 672) and ctl.latency == 9600 + change
    # one late block (a stall) changes nothing; LATE_BLOCKS within the late window raise, once
    assert ctl.observe(t + 0.04, -500, compute, silent=False) == 0
    for i in range(1, LATE_BLOCKS - 1):
        assert ctl.observe(t + 0.04 * (i + 1), -300, compute, silent=False) == 0
    up = ctl.observe(t + 0.04 * LATE_BLOCKS, -200, compute, silent=False)
    assert up == 500 + 672 and ctl.latency <= ctl.ceiling  # the worst lateness + the headroom
    # never past the ceiling, never under the floor
    for i in range(10 * LATE_BLOCKS):
        ctl.observe(t + 1 + 0.04 * i, -48000, compute, silent=False)
    assert ctl.latency == 12000


def test_a_machine_busy_at_each_onset_does_not_make_it_go_down_and_up_every_phrase():
    """Phrases every 5 s; the first 0.12 s of each costs 30 ms more (another program wakes at the onset).
    A 4 s window fits in each pause, so without a longer wait after a raise the latency would come
    down in every pause and go up at every onset: two audible changes per phrase."""
    from realtime.adaptive_latency import LatencyController

    rate, block_s, fixed = 48000, 0.02, 1200
    ctl = LatencyController(rate, initial=4800, floor=1200, ceiling=24000, margin_s=0.01)
    changes, t = [], 0.0
    while t < 80.0:
        phase = t % 5.0
        compute = 0.010 + (0.030 if phase < 0.12 else 0.0)
        slack = ctl.latency - fixed - compute * rate
        change = ctl.observe(t, slack, compute, silent=phase > 3.5)
        if change:
            changes.append((round(t, 2), change))
        t += block_s
    ups = [c for c in changes if c[1] > 0]
    assert 1 <= len(ups) <= 2 and len(changes) <= 4, changes
    # and it settled where the onsets are in time
    late_at_end = [ctl.latency - fixed - 0.040 * rate]
    assert late_at_end[0] >= 0
