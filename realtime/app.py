"""The program: ``Settings`` -> one ``Plan`` -> ``build`` -> run -> what the user gets.

This is the only module that reads ``Settings``: it turns them into a plan (live, file,
still), in which every component has its own small config. ``run`` then builds and runs the
plan and decides what the run achieved, which is the exit-code contract:

- every output complete: the result is returned (exit 0);
- bad input or settings: a ``RealtimeError`` before anything runs (exit 2);
- a failure during the run: ``RunFailed`` after every output is finalised, naming the partial
  output that was kept (exit 1);
- stopped by a signal: the result says ``interrupted`` (the CLI exits 130 or 143).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from realtime.build import Progress, Run, build
from realtime.enhance.config import EnhanceConfig
from realtime.errors import ConfigError, NoFaceError, RunFailed
from realtime.inference.models import ModelAccess
from realtime.pipeline import Pipeline
from realtime.plan import (
    ChainSpec,
    FileOutput,
    ImageOutput,
    Layout,
    MjpegOutput,
    NullOutput,
    OnDemand,
    Plan,
    SinkSpec,
    SourceSpec,
    StreamOutput,
    Threads,
    VcamOutput,
    WindowOutput,
)
from realtime.preflight import CODECS, check_settings, is_image_path, is_url, mode_of
from realtime.resources import apply_threads, plan_threads
from realtime.settings import Settings
from realtime.sinks.coverage import short_of, shortfall
from realtime.sinks.file import SKIP_FIX
from realtime.swap.config import SwapConfig

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
DEMO_SOURCE_FACE = ASSETS / "faces" / "astronaut.jpg"
DEMO_TARGET_FACE = ASSETS / "faces" / "grace_hopper.jpg"
__all__ = ["Progress", "RunFailed", "check_settings", "mode_of", "plan_from_settings", "run"]


def _source_spec(settings: Settings, mode: str) -> SourceSpec:
    src = settings.source
    w, h, fps = src.width, src.height, src.fps
    if src.demo:
        return SourceSpec("synthetic", width=w, height=h, fps=fps)
    if src.camera is not None:
        return SourceSpec("camera", src.camera, api=src.api, width=w, height=h, fps=fps)
    assert src.input is not None
    kind = "image" if is_image_path(src.input) and not is_url(src.input) else "video"
    # A looped file job ends at --duration seconds of video (its output's length, not wall time).
    until = settings.duration if mode == "file" and src.loop else None
    return SourceSpec(
        kind, src.input, live=mode == "live", loop=src.loop, until=until, width=w, height=h, fps=fps
    )


def _file_output(settings: Settings, path: str, live: bool) -> FileOutput:
    """A video file with the run's encoder settings: a file job's output, a live recording,
    or the panel's recordings (``OnDemand.record``)."""
    out = settings.output
    size = tuple(out.size) if out.size else None
    return FileOutput(
        path,
        codec=CODECS.get(out.codec.lower(), out.codec),
        crf=out.crf,
        # A live recording shares two cores with the swap: fast, no look-ahead.
        preset=out.preset or ("ultrafast" if live else "veryfast"),
        tune="zerolatency" if live and out.codec in ("libx264", "h264", "libx265") else None,
        bitrate=out.bitrate,
        size=size,  # type: ignore[arg-type]
        audio_from=settings.source.input if (not live and out.audio) else None,
        loop_audio=settings.source.loop,
        keep_pts=not live,
        overwrite=out.force,
    )


def _vcam_output(settings: Settings) -> VcamOutput:
    return VcamOutput(settings.output.vcam_backend, settings.output.vcam_device)


# --sink NAME -> the output spec it means, made from the settings (``mode``: live, file, ...).
SINK_SPECS: dict[str, Callable[[Settings, str], SinkSpec]] = {
    "file": lambda s, mode: _file_output(s, str(s.output.output), live=mode == "live"),
    "vcam": lambda s, mode: _vcam_output(s),
    "mjpeg": lambda s, mode: MjpegOutput(s.output.mjpeg_host, s.output.mjpeg_port, s.output.mjpeg_token),
    "stream": lambda s, mode: StreamOutput(str(s.output.stream_url), bitrate=s.output.bitrate or 4_000_000),
    "window": lambda s, mode: WindowOutput(),
    "null": lambda s, mode: NullOutput(),
}


def _sink_specs(settings: Settings, mode: str) -> tuple[SinkSpec, ...]:
    out = settings.output
    if mode == "still":
        swap = bool(settings.face) and settings.swapper != "none"
        return (ImageOutput(str(out.output), overwrite=out.force, require_face=swap),)
    names = out.sinks or (("file",) if out.output else ("vcam",))
    return tuple(SINK_SPECS[name](settings, mode) for name in names)


def _on_demand(settings: Settings) -> OnDemand:
    """What the panel may add while running, with this run's own encoder and device."""
    return OnDemand(record=_file_output(settings, "", live=True), vcam=_vcam_output(settings))


def _chain_spec(settings: Settings, threads: Threads) -> ChainSpec:
    faces = tuple(settings.face) or ((str(DEMO_SOURCE_FACE),) if settings.source.demo else ())
    models = ModelAccess(
        settings.provider, settings.models_dir, settings.trust_unverified, threads=threads.ort
    )
    if settings.remote:
        from realtime.remote.guard import FILE_PATIENCE_S

        live = mode_of(settings) == "live"
        models = replace(
            models,
            remote=settings.remote,
            # Live: a call may take two frames, then the newest frame wins. Files: ten seconds,
            # and a lost server is waited for, so no frame leaves unswapped.
            remote_budget_ms=2000.0 / settings.source.fps if live else 10000.0,
            remote_fallback=settings.remote_fallback,
            remote_patience_s=0.0 if live else FILE_PATIENCE_S,
        )
    want_swap = bool(faces) and settings.swapper != "none"
    if not want_swap and not settings.draw_landmarks:
        if settings.enhance:
            raise ConfigError(
                "--enhance needs a swap", fix="give --face PHOTO and a --swapper other than none"
            )
        return ChainSpec(photos=faces)
    swap = None
    if want_swap:
        swap = SwapConfig(
            swapper=settings.swapper,
            faces=faces,
            face_index=settings.face_index,
            pick=settings.face_select,
            reference=tuple(settings.reference),
            mesh=settings.swap,
            models=models,
        )
    enhance = EnhanceConfig(settings.enhance, settings.enhance_every, models) if settings.enhance else None
    still = mode_of(settings) == "still"
    analysis = replace(settings.faces, threads=settings.faces.threads or threads.ort)
    # Fail closed live (the streamer's own face never goes out); a file job passes unless asked.
    on_miss = settings.on_miss or ("hold" if mode_of(settings) == "live" else "pass")
    return ChainSpec(
        analysis,
        swap,
        enhance,
        settings.draw_landmarks,
        photos=faces,
        still=still,
        live=mode_of(settings) == "live",
        on_miss=on_miss,
        check_photos=bool(settings.face),
    )


def plan_from_settings(settings: Settings) -> Plan:
    """The run the settings describe, checked: a flag that cannot apply is refused here."""
    check_settings(settings)
    mode = mode_of(settings)
    p = settings.pipeline
    threads = plan_threads(p.workers)
    chain = _chain_spec(settings, threads)
    what = {  # what runs, as asked: in the stats, so a run can be checked afterwards
        "swapper": settings.swapper if chain.swap else "none",
        "face_select": settings.face_select,
        "provider": settings.provider or "auto",
        "enhance": settings.enhance,
        "workers": p.workers,
        "detector": settings.faces.detector,
        "detect_every": settings.faces.detect_every,
        "remote": settings.remote,
    }
    return Plan(
        mode=mode,
        source=_source_spec(settings, mode),
        chain=chain,
        sinks=_sink_specs(settings, mode),
        layout=Layout(workers=p.workers, split=p.split, hang_timeout_s=p.hang_timeout_s, threads=threads),
        duration=settings.duration if mode == "live" else None,
        watch_faces=mode == "live",
        on_demand=_on_demand(settings),
        info={"mode": mode, "platform": platform.system(), "plan": what},
    )


def _outputs(run: Run) -> list[dict[str, Any]]:
    out = []
    for report, sink in zip(run.pipeline.outputs(), run.pipeline.sinks):
        entry: dict[str, Any] = {"name": report.name, "written": report.written, "skipped": report.skipped}
        if report.path:
            entry["path"] = report.path
            entry["saved"] = sink.frames_saved if sink.frames_saved is not None else report.written
            if sink.temp_path is not None and sink.temp_path.exists():
                entry["partial"] = str(sink.temp_path)
            if sink.frames_captured is not None:  # a live recording (README, Exit codes)
                entry["captured"] = sink.frames_captured
            if sink.encoder is not None:  # a recording: the encoder it ended with, and why
                entry["encoder"] = sink.encoder
                entry["encoder_changes"] = sink.encoder_changes
        if report.error is not None:
            entry["error"] = str(report.error)
        out.append(entry)
    return out


def _promised(run: Run) -> int | None:
    """The frames the input's header says it holds (exact, unlike duration x rate)."""
    source = run.pipeline.source
    return None if getattr(source, "loop", False) else getattr(source, "promised", None)


def _short_input(run: Run, result: dict[str, Any]) -> RunFailed | None:
    """An input that ended before the frames its header promised (cut short, damaged)."""
    source, read = run.pipeline.source, run.pipeline.stats.captured
    promised, why = _promised(run), getattr(source, "cut_short", None)
    # A couple of frames may be dropped by the container's edit list (encoder delay): not short.
    if not (promised and read < promised * 0.99 - 2) and not why:
        return None
    got = f"{read} of the {promised} frames its header promised" if promised else f"{read} frames"
    cause = f" ({why})" if why else ""
    kept = (
        f"; partial output kept: {result['output']} ({result['frames']} frames)" if result["frames"] else ""
    )
    return RunFailed(
        f"the input {run.plan.source.target} ended early: {got} were read{cause}{kept}",
        fix="the input is damaged or was cut short; copy it again or re-encode it",
        result=result,
    )


def _summary(run: Run, stats: dict[str, Any], seconds: float) -> dict[str, Any]:
    plan, counter = run.plan, run.counter
    result = dict(stats)
    result["outputs"] = _outputs(run)
    result["interrupted"] = not plan.live and not run.pipeline.source_ended and run.pipeline.fatal is None
    if plan.mode in ("file", "still"):
        main = result["outputs"][0]
        done = counter.done
        result.update(
            input=plan.source.target,
            output=main.get("path"),
            frames=main.get("saved", 0),
            frames_expected=_promised(run) or counter.total if plan.mode == "file" else 1,
            frames_without_face=counter.no_face if counter.faces else None,
            seconds=round(seconds, 3),
            fps=round(done / seconds, 2) if seconds > 0 else 0.0,
            audio=next((s.audio_mode for s in run.pipeline.sinks if s.audio_mode), "none"),
        )
        fps = getattr(run.pipeline.source, "fps", None)
        result["realtime_factor"] = round(result["fps"] / fps, 2) if fps and plan.mode == "file" else None
    return result


def _judge(run: Run, result: dict[str, Any]) -> None:
    """Raise what went wrong, if anything did, once every output is finalised."""
    plan, pipeline = run.plan, run.pipeline
    kept = [
        f"{o['path']} ({o['saved']} frames)" for o in result["outputs"] if o.get("path") and o.get("saved")
    ]
    partial = f"; partial output kept: {', '.join(kept)}" if kept else ""
    if pipeline.fatal is not None:
        raise RunFailed(f"{pipeline.fatal}{partial}", result=result) from pipeline.fatal
    failed = [o for o in result["outputs"] if o.get("error")]
    if failed:
        raise RunFailed("; ".join(f"output {o['name']}: {o['error']}" for o in failed), result=result)
    thinned = [o for o in result["outputs"] if o.get("path") and o.get("skipped")]
    if thinned:  # a recording is complete only with every frame it was given (README, Exit codes)
        raise RunFailed(
            "; ".join(
                f"{o['path']} is incomplete: {o.get('saved', 0)} of "
                f"{o.get('saved', 0) + o['skipped']} frames "
                f"saved, {o['skipped']} skipped because the encoder could not keep up even with "
                f"{o.get('encoder', 'its fastest setting')}"
                for o in thinned
            ),
            fix=SKIP_FIX,
            result=result,
        )
    starved = [o for o in result["outputs"] if short_of(o.get("saved", 0), o.get("captured", 0))]
    if starved:  # the swap dropped too many of the camera's frames before the recording
        raise RunFailed(
            "; ".join(
                f"{o['path']} is incomplete: {shortfall(o.get('saved', 0), o['captured'])} at "
                f"{plan.source.width}x{plan.source.height} and {plan.source.fps:g} fps on this machine "
                "(or restarted after a crash: see the log)"
                for o in starved
            ),
            fix="lower --size or --fps, or record the camera first and convert that file with --input",
            result=result,
        )
    if plan.mode == "still":
        sink = pipeline.sinks[0]
        if sink.no_face:
            raise NoFaceError(
                f"no face found in the input image {plan.source.target}",
                fix="use an image with a clear, visible face",
            )
    if plan.mode == "file" and not result["interrupted"]:
        short = _short_input(run, result)
        if short is not None:
            raise short
        lost = pipeline.stats.captured - result["frames"]
        if lost > 0:
            raise RunFailed(
                f"{result['output']} is incomplete: {result['frames']} of {pipeline.stats.captured} frames",
                result=result,
            )
        if run.counter.faces and result["frames"] and result["frames_without_face"] == result["frames"]:
            log.warning("no face was found in any of the %d frames: nothing was swapped", result["frames"])


def run(
    plan: Plan,
    on_start: Callable[[Pipeline], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_build: Any = None,
    on_finalising: Callable[[list[Any]], None] | None = None,
    on_built: Callable[[Run], None] | None = None,
) -> dict[str, Any]:
    """Build the plan, run it, and return the result (see the module's exit contract).
    ``on_built`` gets the built run before it starts (the control panel attaches there)."""
    import time

    apply_threads(plan.layout.threads)
    built = build(plan, on_build=on_build, on_progress=on_progress)
    if on_built is not None:
        on_built(built)
    pipeline = built.pipeline
    pipeline.on_finalising = on_finalising
    if on_start is not None:
        on_start(pipeline)
    t0 = time.monotonic()
    pipeline.start()  # a source or an output that cannot open: raised as it is (bad input)
    if built.reloader is not None and plan.watch_faces:
        built.reloader.start()  # a new --face photo saved over the old one is picked up live
    try:
        pipeline.wait(duration=plan.duration)
    finally:
        pipeline.stop()
        pipeline.join()
        if built.reloader is not None:
            built.reloader.stop()
    result = _summary(built, pipeline.status(), time.monotonic() - t0)
    _judge(built, result)
    return result
