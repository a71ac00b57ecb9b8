"""`comosvc gui`: the desktop app a performer uses on stage."""

from __future__ import annotations


def register(subparsers) -> None:
    from cli.device_flag import add_device_flag
    from cli.threads_flag import add_threads_flag

    parser = subparsers.add_parser(
        "gui",
        help="open the live desktop app (devices, voice, pitch, presets, live view)",
        description="Open the CoMoSVC Live window. With --screenshot PATH it runs the window briefly against "
        "the simulator (offscreen where there is no display), saves a PNG and exits.",
    )
    parser.add_argument("--screenshot", metavar="PATH", help="save a PNG of the running window and exit")
    parser.add_argument("--seconds", type=float, default=2.5, help="how long to run before the screenshot")
    parser.add_argument("--simulate", nargs="?", const="", metavar="AUDIO",
                        help="drive the engine from the simulator (an audio file, or a built-in demo phrase) "
                        "instead of the sound devices")
    parser.add_argument("--settings", metavar="FILE", help="settings file (default: ~/.config/comosvc/gui.json)")
    parser.add_argument("--engine-in-process", action="store_true",
                        help="run the audio engine inside the window's process (debugging; by default it runs in "
                        "a process of its own, so the window's work cannot stall the audio)")
    add_device_flag(parser, None, "the window's saved Compute setting")
    add_threads_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from cli.threads_flag import use_threads
    from core.errors import UserError
    from gui.app import ensure_display, run_interactive, take_screenshot

    if args.seconds <= 0 or args.seconds > 600:
        raise UserError("--seconds must be between 0 and 600")
    use_threads(args.threads)  # before the engine's process is spawned: it inherits the setting
    if args.device is not None:
        from core.device import resolve_device

        resolve_device(args.device)  # refused here, before a window opens
    if args.screenshot:
        ensure_display()
        path = take_screenshot(args.screenshot, args.seconds, args.settings, args.simulate or None,
                               compute_device=args.device, engine_in_process=args.engine_in_process)
        print(f"wrote {path}")
        return 0
    return run_interactive(args.settings, args.simulate, args.device, args.engine_in_process)
