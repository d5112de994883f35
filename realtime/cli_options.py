"""The command line's options, generated from their declarations (``realtime.options``):
the run's ``Settings`` and the command's own ``CommandLine``, the subcommands, and the flags
that cannot apply to a mode."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from realtime import __version__
from realtime.errors import ConfigError
from realtime.options import add_arguments, given, opt
from realtime.settings import PRESETS_DIR, Settings, load_preset, merge

# Subcommand name -> module with configure(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "cameras": ("realtime.commands.cameras", "list the capture devices found"),
    "models": ("realtime.commands.models", "list, fetch, verify and locate models"),
    "doctor": ("realtime.commands.doctor", "check this machine and explain what runs where"),
    "bench": ("realtime.commands.bench", "benchmark the real pipeline on the synthetic source"),
    "triton": ("realtime.commands.triton", "export a Triton model repository from the manifests"),
    "face": ("realtime.commands.face", "check how a face photo will hold up as the swapped face"),
}


_PANEL_WHY = "the panel's address and token are your own choice, made when you start it"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each option's default, unless it has none (the preset decides)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


@dataclass(frozen=True)
class CommandLine:
    """Options of the command itself, not of a run: never in a preset (nor the panel)."""

    config: str | None = opt(
        None,
        "TOML preset: a path, or a name in configs/ (default, low-latency, quality)",
        where=("cli",),
        why="it names the preset",
        group="run",
    )
    quiet: bool = opt(
        False,
        "only warnings and errors: no status line, no progress, no info",
        where=("cli",),
        why="a console choice",
        group="run",
    )
    preview: bool = opt(
        False, "also show a preview window", where=("cli",), why="adds the window sink", group="output"
    )
    panel: bool = opt(False, "serve the browser control panel", where=("cli",), why=_PANEL_WHY, group="panel")
    panel_host: str = opt(
        "127.0.0.1",
        "address of the panel; anything but loopback serves your camera to other machines",
        where=("cli",),
        why=_PANEL_WHY,
        group="panel",
    )
    panel_port: int = opt(
        8765,
        "port of the panel (0 picks a free one)",
        where=("cli",),
        why=_PANEL_WHY,
        group="panel",
        minimum=0,
        maximum=65535,
    )
    panel_token: str | None = opt(
        None,
        "the panel's token (default: a new random one, printed in its URL)",
        where=("cli",),
        why=_PANEL_WHY,
        group="panel",
    )
    no_browser: bool = opt(
        False, "do not open the panel in a browser", where=("cli",), why=_PANEL_WHY, group="panel"
    )


GROUPS = {
    "source": "source (choose one)",
    "face": "face",
    "output": "output",
    "run": "run",
    "faces": "face tracking ([faces] in a preset; most change live in the panel)",
    "swap": "mesh swapper ([swap] in a preset; all change live in the panel)",
    "panel": "control panel (`realtime panel` is `realtime --panel`)",
}


def main_parser() -> argparse.ArgumentParser:
    """The flags, generated from the declarations of ``Settings`` and ``CommandLine``."""
    p = argparse.ArgumentParser(
        prog="realtime",
        usage="realtime (--camera N | --input FILE | --demo) [--face PHOTO] [options]",
        formatter_class=HelpFormatter,
        description="Swap faces in a live camera feed and send it to a virtual camera.",
        epilog="subcommands: "
        + ", ".join(f"{k} ({v[1]})" for k, v in SUBCOMMANDS.items())
        + ", panel (a live run with the browser control panel: `realtime panel --demo`)"
        + ". Run `realtime SUBCOMMAND --help`.",
    )
    p.add_argument("--version", action="version", version=f"realtime {__version__}")
    add_arguments(p, (Settings, CommandLine), GROUPS)
    return p


def command_line(args: argparse.Namespace) -> CommandLine:
    return CommandLine(**{k: v for k, v in given(args, CommandLine).items()})


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The preset (``--config``), then every flag given, onto the declared defaults."""
    cmd = command_line(args)
    base = Settings()
    if cmd.config:
        path = Path(cmd.config)
        if not path.exists() and (PRESETS_DIR / f"{cmd.config}.toml").exists():
            path = PRESETS_DIR / f"{cmd.config}.toml"
        base = load_preset(path)
    ov = given(args, Settings)
    out = ov.get("output.output", base.output.output)
    sinks = list(ov.get("output.sinks") or base.output.sinks)
    if cmd.panel and not sinks and not out:
        sinks = ["null"]  # the panel is the preview; the virtual camera is switched on there
    if cmd.preview and "window" not in sinks:
        sinks = sinks or (["file"] if out else ["vcam"])
        sinks.append("window")
    if sinks:
        ov["output.sinks"] = tuple(sinks)
    return merge(base, ov)


def refuse_live_only_flags(args: argparse.Namespace, mode: str) -> None:
    """A file job keeps its input's size and timing and converts all of it: a capture flag
    given on the command line would be silently ignored there, so it is refused."""
    if mode != "file":
        return
    flags = given(args, Settings)
    named = [flag for key, flag in (("source.size", "--size"), ("source.fps", "--fps")) if key in flags]
    if "duration" in flags and not flags.get("source.loop"):
        named.append("--duration")
    if named:
        raise ConfigError(
            f"{' and '.join(named)} cannot apply to a file job (it converts the whole input, "
            "at its own size and timing)",
            fix="drop it; --output-size scales the output, --duration goes with --loop",
        )
