"""The probe's stream is closed only while it is alive: PortAudio's JACK host aborts the whole process when it
stops or closes a stream whose server went away (a clean-clone CI run of `comosvc latency` died so)."""

import realtime.device_query as device_query
import realtime.latency_probe_stream as probe_stream
from realtime.latency_probe_stream import ProbeStream


class FakeStream:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


def _probe_with(stream: FakeStream) -> ProbeStream:
    probe = ProbeStream.__new__(ProbeStream)  # no devices needed: only close() is under test
    probe._stream = stream
    return probe


def _abandons(monkeypatch) -> list[bool]:
    abandoned: list[bool] = []
    monkeypatch.setattr(device_query, "abandon_portaudio", lambda: abandoned.append(True))
    return abandoned


def test_a_live_stream_is_stopped_and_closed(monkeypatch):
    abandoned, stream = _abandons(monkeypatch), FakeStream(active=True)
    _probe_with(stream).close()
    assert stream.calls == ["stop", "close"] and abandoned == []


def test_a_stream_whose_server_went_away_is_left_to_the_end_of_the_process(monkeypatch):
    abandoned, stream = _abandons(monkeypatch), FakeStream(active=False)
    probe = _probe_with(stream)
    probe.close()
    assert stream.calls == [] and abandoned == [True]
    assert stream in probe_stream._LEFT_OPEN  # kept referenced: its object owns the callback PortAudio calls
    probe.close()  # a second close has nothing left to do
    assert abandoned == [True]


def test_after_a_failure_even_an_active_stream_is_left_alone(monkeypatch):
    abandoned, stream = _abandons(monkeypatch), FakeStream(active=True)
    _probe_with(stream).close(abandon=True)
    assert stream.calls == [] and abandoned == [True]
