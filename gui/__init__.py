"""The desktop app (`comosvc gui`).

app.py           QApplication set-up, interactive run, --screenshot
main_window.py   layout and wiring of the panels, status bar, messages, shortcuts, named presets
controller.py    the only thing that talks to realtime.Engine (start/stop off the GUI thread, snapshot polling)
engine_factory.py  settings -> the engine, in its own process (default) or in the window's
panels/          audio, voice, performance, transport
plots.py         the live view (pyqtgraph), fed from EngineSnapshot only
settings.py      settings dataclass and the JSON store with named presets
theme.py, widgets.py  dark stage theme, level meter
"""
