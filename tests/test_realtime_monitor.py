"""The separate monitor output: a gained copy of the main output, bounded against clock drift."""

import numpy as np

from realtime.monitor import MonitorTap


def test_monitor_plays_the_output_at_its_own_gain():
    tap = MonitorTap(48000, gain_db=-6.0)
    block = np.linspace(-0.5, 0.5, 480, dtype=np.float32)
    tap.feed(block)
    out = np.full(256, 7.0, dtype=np.float32)
    tap.device_io(out)
    np.testing.assert_allclose(out, block[:256] * 10 ** (-6 / 20), rtol=1e-6)
    tap.set_gain(0.0)
    tap.feed(block)
    rest = np.zeros(480 - 256 + 480, dtype=np.float32)
    tap.device_io(rest)
    np.testing.assert_allclose(rest[480 - 256:], block, rtol=1e-6)
    assert tap.underflows == 0


def test_short_monitor_plays_zeros_and_counts_it():
    tap = MonitorTap(48000)
    out = np.ones(256, dtype=np.float32)
    tap.device_io(out)
    assert not out.any() and tap.underflows == 0  # nothing written yet: not an underflow
    tap.feed(np.ones(100, dtype=np.float32))
    out[:] = 5.0
    tap.device_io(out)
    assert np.all(out[:100] == 1.0) and not out[100:].any() and tap.underflows == 1


def test_a_slower_monitor_clock_never_lets_its_delay_creep():
    tap = MonitorTap(48000, max_delay_s=0.05)
    out = np.zeros(256, dtype=np.float32)
    for k in range(400):  # the worker delivers 512 per period, the monitor device takes only 256
        tap.feed(np.full(512, k, dtype=np.float32))
        tap.device_io(out)
        assert tap.ring.fill <= tap.max_fill
    assert tap.jumps > 0
    # Without the bound it would play block ~200 now; with it, audio at most max_fill samples old.
    assert out[-1] >= 399 - (tap.max_fill // 256 + 1)
