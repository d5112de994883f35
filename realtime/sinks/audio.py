"""Carrying a source file's audio into a recording, interleaved with the video as it is written.

Stream copy (no re-encode) where the output container takes the codec as it is; otherwise the
audio is decoded and re-encoded to AAC, so no audio track makes a conversion fail. A fragmented
MP4 cannot carry AC-3/E-AC-3 (their description must be written before the first packet), and
AAC from MPEG-TS comes with ADTS headers that MP4, MOV and Matroska refuse: both are
converted. Packets are muxed up to the time of the last video frame written, so a recording
cut short by Ctrl-C or a full disk keeps its sound up to that point.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)

# Audio codecs each container takes as they are (stream copy).
COPYABLE = {
    "mp4": {"aac", "mp3", "alac", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le", "pcm_s24le"},
    "matroska": {"aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3", "pcm_s16le", "alac"},
}


class AudioCopier:
    """Moves the first audio stream of ``source`` into ``output`` (an open PyAV container)."""

    def __init__(
        self, source: Path, output: Any, container_format: str, *, convert: bool = False, loop: bool = False
    ) -> None:
        """``loop``: the video starts the file over at its end (``--loop``), so the audio does
        too, each pass after the last one's end."""
        self._in = av.open(str(source))
        self._loop = loop
        self._offset = 0  # ticks of the source's time base added to this pass's packets
        self._end = 0  # where the latest packet ends, offset included
        if not self._in.streams.audio:
            self._in.close()
            raise ValueError(f"{source} has no audio")
        self._src = self._in.streams.audio[0]
        codec = self._src.codec_context.name
        # AAC without a decoder config (ADTS, as MPEG-TS carries it) cannot be copied as it is.
        adts = codec == "aac" and not self._src.codec_context.extradata
        self.copy = not convert and not adts and codec in COPYABLE.get(container_format, set())
        self.codec = codec
        if self.copy:
            self._out = output.add_stream_from_template(self._src)
        else:
            rate = self._src.codec_context.sample_rate or 48000
            self._out = output.add_stream("aac", rate=rate)
            self._out.layout = self._src.codec_context.layout
            self._resampler = av.AudioResampler(format="fltp", layout=self._out.layout, rate=rate)
        self._packets = self._in.demux(self._src)
        self._pending: Any = None
        self._done = False
        self._output = output
        log.info("audio: %s %s", codec, "copied" if self.copy else "re-encoded to AAC")

    def _next(self, may_loop: bool) -> Any:
        while self._pending is None and not self._done:
            for pkt in self._packets:
                if pkt.dts is None and pkt.pts is None:
                    continue  # the demuxer's final flush packet
                if pkt.pts is not None and pkt.pts + (pkt.duration or 0) <= 0:
                    # Encoder priming before the video's time 0: a fragmented MP4 has no edit
                    # list, and a negative time would shift every later frame.
                    continue
                if self._offset:
                    pkt.pts = None if pkt.pts is None else pkt.pts + self._offset
                    pkt.dts = None if pkt.dts is None else pkt.dts + self._offset
                start = pkt.pts if pkt.pts is not None else pkt.dts
                self._end = max(self._end, (start or 0) + (pkt.duration or 0))
                self._pending = pkt
                break
            else:
                if not (self._loop and may_loop and self._end > self._offset):
                    self._done = True
                    break
                self._in.seek(0, stream=self._src)  # the next pass, after this one's end
                self._packets = self._in.demux(self._src)
                self._offset = self._end
        return self._pending

    def pump(self, until_s: float | None) -> None:
        """Mux every audio packet that starts before ``until_s`` (all of them when None)."""
        while (pkt := self._next(may_loop=until_s is not None)) is not None:
            t = float((pkt.pts if pkt.pts is not None else pkt.dts) * pkt.time_base)
            if until_s is not None and t > until_s:
                return
            self._pending = None
            if self.copy:
                pkt.stream = self._out
                self._output.mux(pkt)
            else:
                for frame in pkt.decode():
                    for rf in self._resampler.resample(frame):
                        for out_pkt in self._out.encode(rf):
                            self._output.mux(out_pkt)

    def finish(self, until_s: float | None) -> None:
        """Mux what belongs before ``until_s``, flush an encoder, close the source."""
        try:
            self.pump(until_s)
            if not self.copy:
                for rf in self._resampler.resample(None):
                    for out_pkt in self._out.encode(rf):
                        self._output.mux(out_pkt)
                for out_pkt in self._out.encode(None):
                    self._output.mux(out_pkt)
        finally:
            self._in.close()

    def close(self) -> None:
        self._in.close()


def seconds(ticks: int, time_base: Fraction) -> float:
    return float(ticks * time_base)
