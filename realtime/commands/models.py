"""``realtime models list | fetch NAME... | verify [NAME...] | path [NAME]``.

The model cache is ``--models-dir``, else $REALTIME_MODELS_DIR, else the per-user cache folder.
``fetch`` also fetches what a model requires (a swapper's recognizer, simswap's converter).
Models with no published sha256 are refused unless ``--trust-unverified``, which pins the hash
of the file you have so later runs detect any change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from realtime.catalog import download, store
from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.commands.tables import table_width
from realtime.errors import ConfigError, RealtimeError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models-dir",
        default=None,
        help=f"model cache folder (default: ${store.ENV_VAR}, else {store.default_models_dir()})",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION", help="what to do")
    ls = sub.add_parser("list", help="every known model, its size, licence and whether it is here")
    ls.add_argument("--kind", default=None, help="only this kind (detector, swapper, ...)")
    fetch = sub.add_parser("fetch", help="download and verify models (and what they require)")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="models to fetch (see `models list`)")
    fetch.add_argument(
        "--trust-unverified", action="store_true", help="accept and pin files with no published sha256"
    )
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify = sub.add_parser(
        "verify", help="re-read cached models and check their sha256 (default: all present)"
    )
    verify.add_argument(
        "names", nargs="*", metavar="NAME", help="models to check (default: every one present)"
    )
    verify.add_argument(
        "--trust-unverified", action="store_true", help="pin the hash of files with none published"
    )
    path = sub.add_parser("path", help="print the cache folder, or where a model's file goes")
    path.add_argument("name", nargs="?", default=None, metavar="NAME", help="a model (default: the folder)")


def _size(n: int) -> str:
    return "?" if n == 0 else f"{n / 1e6:.1f} MB"


def _status(spec: ModelSpec, folder: Path) -> str:
    if spec.bundled:
        return "bundled"
    if store.is_present(spec, folder):
        return "present" if spec.verifiable else "present, no sha256"
    return "missing" if spec.verifiable else "missing, no sha256"


def _check_names(names: list[str], specs: Mapping[str, ModelSpec]) -> None:
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}", fix=f"known: {', '.join(sorted(specs))}")


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    specs: Mapping[str, ModelSpec] | None = None,
    fetcher: Callable[..., Path] | None = None,
) -> int:
    out = out or sys.stdout
    specs = load_manifests() if specs is None else specs
    folder = store.resolve_models_dir(getattr(args, "models_dir", None))
    action = args.action
    if action == "list":
        return _list(specs, folder, getattr(args, "kind", None), out)
    if action == "path":
        if args.name is None:
            out.write(f"{folder}\n")
            return 0
        _check_names([args.name], specs)
        out.write(f"{store.model_path(specs[args.name], folder)}\n")
        return 0
    if action == "fetch":
        return _fetch(args, specs, folder, out, fetcher or download.fetch)
    if action == "verify":
        return _verify(args, specs, folder, out)
    raise ConfigError(f"unknown models action {action!r}", fix="use list, fetch, verify or path")


def _list(specs: Mapping[str, ModelSpec], folder: Path, kind: str | None, out: TextIO) -> int:
    # rich's tables load when the command runs (start-up cost).
    from rich.console import Console
    from rich.table import Table

    kinds = sorted({s.kind for s in specs.values()})
    if kind is not None and kind not in kinds:
        raise ConfigError(f"unknown model kind {kind!r}", fix=f"use one of {', '.join(kinds)}")
    rows = [
        [name, specs[name].kind, _size(specs[name].size), _status(specs[name], folder), specs[name].license]
        for name in sorted(specs, key=lambda n: (specs[n].kind, n))
        if not kind or specs[name].kind == kind
    ]
    # As wide as the terminal (no limit when piped). Name, kind, size and status are never
    # cut (the name is what `fetch` takes); the licence gets what is left, or is left out.
    width = table_width(out)
    widths = [
        max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(("name", "kind", "size", "status"))
    ]
    room = width - sum(widths) - 3 * 5 - 1  # each column's padding and rule
    table = Table(title=f"models (cache: {folder})")
    for col in ("name", "kind", "size"):
        table.add_column(col, no_wrap=True)
    table.add_column("status")  # wraps when even that is too wide
    if room >= 10:
        table.add_column("licence", no_wrap=True, max_width=room)
    for r in rows:
        lic = r[4] if len(r[4]) <= room else r[4][: room - 1] + "…"
        table.add_row(*r[:4], *([lic] if room >= 10 else []))
    Console(file=out, width=width).print(table)
    return 0


def _fetch(
    args: argparse.Namespace,
    specs: Mapping[str, ModelSpec],
    folder: Path,
    out: TextIO,
    fetcher: Callable[..., Path],
) -> int:
    _check_names(args.names, specs)
    names = download.with_requirements(args.names, specs)
    for name in names:
        if specs[name].bundled:
            out.write(f"{name}: bundled with the package\n")
            continue
        kw: dict[str, Any] = {"trust_unverified": args.trust_unverified, "progress": not args.no_progress}
        path = fetcher(specs[name], folder, **kw)
        out.write(f"{name}: {path}\n")
    return 0


def _verify(args: argparse.Namespace, specs: Mapping[str, ModelSpec], folder: Path, out: TextIO) -> int:
    names = list(args.names)
    _check_names(names, specs)
    if not names:
        names = [n for n, s in sorted(specs.items()) if not s.bundled and (folder / s.file).exists()]
        if not names:
            out.write(f"no downloaded models in {folder}\n")
            return 0
    failed = 0
    for name in names:
        spec = specs[name]
        if spec.bundled:
            out.write(f"{name}: bundled (checked at load)\n")
            continue
        try:
            v = store.verify(spec, folder, trust_unverified=args.trust_unverified, rehash=True)
        except RealtimeError as exc:
            failed += 1
            out.write(f"{name}: FAILED - {exc}\n")
            continue
        how = "pinned locally (no published sha256)" if v.pinned else "published sha256"
        out.write(f"{name}: ok ({how}: {v.sha256})\n")
    return 1 if failed else 0
