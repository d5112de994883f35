"""``realtime triton export NAME... --out DIR``: a Triton model repository from the manifests.

The models come from the verified model cache (``realtime models fetch`` first); what is
written is described in ``realtime.remote.export`` and docs/remote.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    ex = sub.add_parser("export", help="write config.pbtxt and the uint8 wrapper of each model")
    ex.add_argument("names", nargs="+", metavar="NAME", help="model names (a swapper brings its recognizer)")
    ex.add_argument("--out", required=True, help="the model repository folder to write")
    ex.add_argument(
        "--platform", choices=["onnxruntime", "tensorrt", "python"], default="onnxruntime",
        help="onnxruntime_onnx (default), tensorrt_plan (plan built on the GPU), or the Python backend",
    )  # fmt: skip
    ex.add_argument("--max-batch", type=int, default=8, help="max_batch_size (default 8)")
    ex.add_argument("--queue-delay-us", type=int, default=500, help="dynamic batching delay (default 500)")
    ex.add_argument("--no-dynamic-batching", action="store_true", help="serve each request on its own")
    ex.add_argument("--instances", type=int, default=1, help="model instances per device (default 1)")
    ex.add_argument("--kind", choices=["gpu", "cpu"], default="gpu", help="instance kind (default gpu)")
    ex.add_argument("--also-unbatched", action="store_true", help="add NAME_nobatch copies for the bench")
    ex.add_argument("--models-dir", help="model cache folder")
    ex.add_argument("--trust-unverified", action="store_true", help="accept a model without a sha256")
    ex.add_argument("--force", action="store_true", help="replace model folders that exist")


def run(args: argparse.Namespace) -> int:
    # Loaded when the command runs, not when the CLI builds its parser (start-up cost).
    from realtime.catalog.manifest import load_manifests
    from realtime.remote.export import ExportOptions, export_repository

    out = Path(args.out)
    specs = load_manifests()
    unknown = [n for n in args.names if n not in specs]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}", fix="see `realtime models list`")
    wanted = {m for n in args.names for m in (n, *specs[n].requires)}
    clash = sorted(n for n in wanted if (out / n).exists())
    if clash and not args.force:
        raise ConfigError(f"{out} already holds {', '.join(clash)}", fix="pass --force to replace them")
    opts = ExportOptions(
        platform=args.platform,
        max_batch_size=args.max_batch,
        dynamic_batching=not args.no_dynamic_batching,
        queue_delay_us=args.queue_delay_us,
        instances=args.instances,
        kind=args.kind,
    )
    written = export_repository(
        args.names,
        out,
        options=opts,
        models_dir=args.models_dir,
        specs=specs,
        trust_unverified=args.trust_unverified,
        unbatched_copies=args.also_unbatched,
    )
    for folder in written:
        print(f"wrote {folder}", file=sys.stderr)
    if args.platform == "tensorrt":
        print("build each model.plan on the serving GPU: see BUILD.txt in each folder", file=sys.stderr)
    return 0
