"""Each option declared once: a field of a typed settings dataclass with its ``Option``.

The command line (argparse, with ``--help``), the preset (TOML) reader and its errors, and the
panel's settings schema are all generated from these declarations, and every value is checked
by one function (``check``), whichever of them it came through. Adding an option means adding
one field with ``opt(...)`` to the settings of the component that uses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from realtime.errors import ConfigError

T = TypeVar("T")

SURFACES = ("cli", "preset", "panel")


@dataclass(frozen=True)
class Option:
    """How one setting is offered.

    ``flag``: its command-line spelling (default ``--key`` for a top-level setting and
    ``--section-key`` in a section; ``""`` for none).
    ``minimum``/``maximum`` (``open_min``: the bound itself is refused) and ``choices`` are the
    one check of its value. ``where``: the surfaces it appears on (CLI-only ones say why in
    ``why``). ``live``: the panel may change it while running. ``label`` and ``basic``: how
    the panel names it and whether it is among the few basic controls.
    """

    help: str
    flag: str | None = None
    short: str | None = None
    group: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    open_min: bool = False
    step: float | None = None
    slider: tuple[float, float] | None = None  # the panel's range where the value's is open-ended
    where: tuple[str, ...] = SURFACES
    why: str = ""
    live: bool = False
    label: str | None = None
    basic: bool = False
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    write_path: bool = False  # a file the program writes: a preset may only name one in its folder


def opt(default: T, help: str, **kwargs: Any) -> T:
    """A dataclass field holding ``default``, declared as an option (see ``Option``)."""
    return dataclasses.field(default=default, metadata={"option": Option(help, **kwargs)})  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Declared:
    """One declared option, located: ``section`` is ``None`` for a top-level setting."""

    section: str | None
    name: str
    option: Option
    hint: Any
    default: Any
    cls: type

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def flag(self) -> str | None:
        if self.option.flag is not None:
            return self.option.flag or None
        if "cli" not in self.option.where:
            return None
        return "--" + self.key.replace(".", "-").replace("_", "-")

    @property
    def kind(self) -> str:
        base = _base(self.hint)
        if base is bool:
            return "bool"
        if get_origin(base) is tuple:
            return "list"
        if self.option.choices:
            return "choice"
        if base in (int, float):
            return "number"
        return "text"


def _base(hint: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (typing.Union, types.UnionType) and type(None) in get_args(hint)


def declared(cls: type, section: str | None = None) -> Iterator[Declared]:
    """Every option of ``cls``, descending into its section dataclasses."""
    return iter(_declared(cls, section))


@functools.cache
def _declared(cls: type, section: str | None) -> tuple[Declared, ...]:
    hints = get_type_hints(cls)
    out: list[Declared] = []
    for f in fields(cls):
        hint = hints[f.name]
        if is_dataclass(hint):
            out += _declared(hint, f.name)  # type: ignore[arg-type]
            continue
        option = f.metadata.get("option")
        if option is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with opt()")
        out.append(Declared(section, f.name, option, hint, f.default, cls))
    return tuple(out)


def _bounds(o: Option) -> str:
    lo, hi = o.minimum, o.maximum
    if lo is not None and hi is not None:
        return f"within {'(' if o.open_min else '['}{_num(lo)}, {_num(hi)}]"
    if lo is not None:
        return f"{'>' if o.open_min else '>='} {_num(lo)}"
    return f"<= {_num(hi or 0)}"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _type_ok(value: Any, hint: Any) -> bool:
    if _optional(hint) and value is None:
        return True
    base = _base(hint)
    if base is bool:
        return isinstance(value, bool)
    if base is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if get_origin(base) is tuple:
        inner = get_args(base)[0]
        return isinstance(value, (list, tuple)) and all(_type_ok(v, inner) for v in value)
    if isinstance(base, type):
        return isinstance(value, base)
    return True


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def check(d: Declared, value: Any, name: str | None = None) -> Any:
    """``value`` for option ``d``, converted (int -> float, list -> tuple) and checked against
    its type, range and choices: the one check of every value. ``ConfigError`` names it
    (as ``name``: the key, or the flag it came from)."""
    name = name or d.key
    if not _type_ok(value, d.hint):
        raise ConfigError(f"{name!r} must be {_type_name(d.hint)}, got {type(value).__name__} {value!r}")
    if value is None:
        return None
    base = _base(d.hint)
    if base is float:
        value = float(value)
    elif get_origin(base) is tuple:
        value = tuple(value)
    o = d.option
    if o.choices is not None:
        bad = [v for v in (value if isinstance(value, tuple) else (value,)) if v not in o.choices]
        if bad:
            raise ConfigError(
                f"{name} must be one of {', '.join(o.choices)}, got {bad[0]!r}", fix=f"e.g. {o.choices[0]!r}"
            )
    if o.minimum is not None or o.maximum is not None:
        low = o.minimum is not None and (value <= o.minimum if o.open_min else value < o.minimum)
        high = o.maximum is not None and value > o.maximum
        if low or high:
            raise ConfigError(f"{name} must be {_bounds(o)}, got {value}", fix=f"e.g. {d.default!r}")
    return value


def find(cls: type, key: str) -> Declared:
    """The declared option ``key`` (``"section.name"`` or a top-level name) of ``cls``."""
    for d in declared(cls):
        if d.key == key:
            return d
    raise KeyError(key)


def validate(instance: Any, section: str | None = None) -> None:
    """Check every declared field of a settings dataclass (called from its ``__post_init__``)."""
    section = section or getattr(type(instance), "SECTION", None)
    for d in declared(type(instance), section):
        if d.cls is type(instance):
            check(d, getattr(instance, d.name))


def from_table(cls: type, data: dict[str, Any], where: str, section: str | None = None) -> Any:
    """A ``cls`` from a preset's table, naming the file and the key of any unknown key, wrong
    type or value out of range."""
    hints = get_type_hints(cls)
    own = {d.name: d for d in declared(cls, section) if d.cls is cls}
    known = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{section}.{key}" if section else key
        if key not in known:
            raise ConfigError(f"{where}: unknown key {name!r}", fix=f"known keys: {', '.join(sorted(known))}")
        if is_dataclass(hints[key]):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {name!r} must be a table ([{name}])")
            kwargs[key] = from_table(hints[key], value, where, name)  # type: ignore[arg-type]
            continue
        d = own[key]
        if "preset" not in d.option.where:
            fix = f"remove it from the preset and give {d.flag} on the command line" if d.flag else ""
            raise ConfigError(f"{where}: {name!r} cannot be set in a preset ({d.option.why})", fix=fix)
        try:
            kwargs[key] = check(d, value, name)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}", fix=exc.fix) from exc
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # a rule across fields: say which file it came from
        raise ConfigError(f"{where}: {exc.message}", fix=exc.fix) from exc


# -- the command line ---------------------------------------------------------------------------


def _cli_type(d: Declared) -> Callable[[str], Any]:
    base = _base(d.hint)
    inner = get_args(base)[0] if get_origin(base) is tuple else base
    convert = d.option.parse or (inner if inner in (int, float) else str)

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"not a valid value: {text!r}") from exc
        try:
            if get_origin(base) is tuple and d.option.parse is None:  # one item of a repeated flag
                return check(d, (value,), d.flag)[0]
            return check(d, value, d.flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.message.removeprefix(f"{d.flag} ")) from exc

    parse.__name__ = d.kind  # argparse names it in "invalid <name> value"
    return parse


def _help(d: Declared) -> str:
    text = d.option.help
    default = d.default
    shown = "x".join(map(str, default)) if d.option.parse and isinstance(default, tuple) else default
    if d.kind == "bool" and d.option.flag is None:
        return f"{text} (default: {'on' if default else 'off'})"
    if d.kind == "bool" or default in (None, ()) or "(default" in text:
        return text
    return f"{text} (default: {shown})"


def add_arguments(parser: argparse.ArgumentParser, classes: tuple[type, ...], groups: dict[str, str]) -> None:
    """One flag per declared option of ``classes`` that is on the command line, in the groups
    named by ``groups`` (key -> title, in that order; an option's ``group`` or else its section
    picks one). Every flag defaults to ``None`` ("not given"): the preset or the declared
    default decides. A generated boolean flag also has its ``--no-`` form."""
    made = {key: parser.add_argument_group(title) for key, title in groups.items()}
    for d in (d for cls in classes for d in declared(cls)):
        flag = d.flag
        if flag is None:
            continue
        key = d.option.group or d.section or "run"
        group = made[key] if key in made else made.setdefault(key, parser.add_argument_group(key))
        names = [flag, d.option.short] if d.option.short else [flag]
        kw: dict[str, Any] = {"dest": d.key, "default": None, "help": _help(d)}
        if d.kind != "bool":
            kw["metavar"] = d.option.metavar or (
                "{" + ",".join(d.option.choices) + "}" if d.option.choices else d.name.upper()
            )
        if d.kind == "bool" and d.option.flag is None:
            kw["action"] = argparse.BooleanOptionalAction
        elif d.kind == "bool":
            kw["action"] = "store_const"
            kw["const"] = not d.default  # --no-audio stores False
        else:
            kw["type"] = _cli_type(d)
            if d.kind == "list" and d.option.parse is None:
                kw["action"] = "append"
        group.add_argument(*names, **kw)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options given on the command line, as ``{"section.key" or "key": value}``."""
    values = vars(args)
    return {d.key: values[d.key] for d in declared(cls) if values.get(d.key) is not None}


# -- the panel ----------------------------------------------------------------------------------


def schema_entry(d: Declared) -> dict[str, Any]:
    """What the panel needs to offer option ``d``: meaning, default, kind, range, liveness."""
    o = d.option
    entry: dict[str, Any] = {
        "name": d.name,
        "key": d.key,
        "label": o.label or d.name.replace("_", " "),
        "meaning": o.help,
        "default": list(d.default) if isinstance(d.default, tuple) else d.default,
        "kind": d.kind,
        "live": o.live,
        "basic": o.basic,
        "flag": d.flag,
    }
    if o.choices:
        entry["choices"] = list(o.choices)
    if d.kind == "number":
        lo, hi = o.slider or (o.minimum, o.maximum)
        entry["min"], entry["max"], entry["step"] = lo, hi, o.step
        entry["integer"] = _base(d.hint) is int
    return entry
