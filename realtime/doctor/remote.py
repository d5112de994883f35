"""``realtime doctor --remote URL``: is the configured Triton server usable from here?

Checks, each a row with ``ok`` and, when not, the fix: the client is installed, the server is
reachable and live, and each model the run needs is on it, ready, and matches the manifest
(names, dtypes, shapes of the uint8 wire contract).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from realtime.catalog.manifest import load_manifests
from realtime.errors import ConfigError, RemoteError
from realtime.inference.triton import (
    check_metadata,
    make_client,
    model_metadata,
    server_live,
    server_models,
)
from realtime.inference.triton_url import parse_remote
from realtime.inference.triton_wire import contract

START_TIMEOUT_S = 5.0


def _row(check: str, ok: bool, detail: str, fix: str = "") -> dict[str, Any]:
    return {"check": check, "ok": ok, "detail": detail, "fix": fix}


def needed_models(swapper: str | None, enhance: str | None = None) -> list[str]:
    """The models a run with ``swapper`` (and ``enhance``) asks the server for."""
    specs = load_manifests()
    names: list[str] = []
    for n in (swapper, enhance):
        if n and n in specs:
            for m in (n, *specs[n].requires):
                if m not in names:
                    names.append(m)
    return names


def check_remote(url: str, models: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The rows of the remote check; with no ``models``, every manifest model the server has."""
    try:
        target = parse_remote(url)
    except ConfigError as exc:
        return [_row("remote URL", False, exc.message, exc.fix or "")]
    if importlib.util.find_spec("tritonclient") is None:
        return [_row("tritonclient", False, "not installed", "pip install 'realtime[remote]'")]

    rows = []
    try:
        client = make_client(target, START_TIMEOUT_S)
        live = server_live(client, target)
    except RemoteError as exc:
        return [_row(f"server {target}", False, exc.message, exc.fix or "")]
    state = ("live", "") if live else ("not live", "see its log")
    rows.append(_row(f"server {target}", bool(live), *state))
    if not live:
        return rows
    specs = load_manifests()
    served = server_models(client)
    names = list(models) or [n for n in served if n in specs]
    if not names:
        rows.append(_row("models", False, "the server holds none of our models", "realtime triton export"))
    for name in names:
        fix = f"realtime triton export {name} --out REPO, then serve or reload REPO"
        try:
            ready = client.is_model_ready(name)
        except Exception as exc:
            rows.append(_row(f"model {name}", False, " ".join(str(exc).split())[:160], fix))
            continue
        if not ready:
            rows.append(_row(f"model {name}", False, "not on the server (or not ready)", fix))
            continue
        why = check_metadata(contract(specs[name]), model_metadata(client, name, START_TIMEOUT_S))
        detail = why or "ready, matches the manifest"
        rows.append(_row(f"model {name}", why is None, detail, "" if why is None else fix))
    try:
        client.close()
    except Exception:  # closing after a failure must not hide the report
        pass
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["remote (Triton):"]
    for r in rows:
        mark = "ok  " if r["ok"] else "FAIL"
        fix = f" - fix: {r['fix']}" if r["fix"] and not r["ok"] else ""
        lines.append(f"  {mark} {r['check']}: {r['detail']}{fix}")
    return "\n".join(lines) + "\n"
