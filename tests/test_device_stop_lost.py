"""Stopping a device stream: a device lost just before stop() is noticed there, and its stream is not closed
(PortAudio's JACK host aborts the whole process when it closes a stream whose server is gone)."""

import pytest

from realtime import devices


class _Stream:
    def __init__(self, active: bool) -> None:
        self.active = active


@pytest.fixture()
def spies(monkeypatch):
    calls = {"closed": [], "abandoned": 0}
    monkeypatch.setattr(devices, "close_streams", lambda streams: calls["closed"].append(streams))

    def abandon():
        calls["abandoned"] += 1

    monkeypatch.setattr(devices, "abandon_portaudio", abandon)
    return calls


def test_a_stream_that_died_before_stop_is_abandoned_not_closed(spies):
    backend = devices.SoundDeviceBackend(None, None, 48000)
    backend._streams = [_Stream(active=True), _Stream(active=False)]
    backend.stop()
    assert backend.lost is not None and "stopped delivering audio" in backend.lost
    assert spies["closed"] == [] and spies["abandoned"] == 1
    assert backend.wait(0)


def test_a_live_stream_is_closed_and_nothing_is_called_lost(spies):
    backend = devices.SoundDeviceBackend(None, None, 48000)
    streams = [_Stream(active=True)]
    backend._streams = streams
    backend._callback_count = 1  # it is delivering audio
    backend.stop()
    assert backend.lost is None
    assert spies["closed"] == [streams] and spies["abandoned"] == 0
