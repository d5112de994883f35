"""``realtime doctor``: what this machine has, what runs where, and what to fix.

Three layers, so each can be tested alone: probes gather facts (``runtime`` for the machine
and its inference runtimes, ``probes`` for cameras, models, engines and the container; each a
function that returns a plain dict, replaceable by a fake in ``Probes``); ``diagnosis`` turns
a report into problems, each one line with its fix; ``render`` formats the report. The
container checks (``container``, over ``container_facts``) add one ``docker run`` flag per
finding. Nothing here prints.
"""

from __future__ import annotations

from realtime.doctor.diagnosis import Problem, build_report, diagnose, exit_code
from realtime.doctor.probes import SCHEMA_VERSION, SECTIONS, Probes, Report, collect
from realtime.doctor.render import render_text

__all__ = [
    "SCHEMA_VERSION",
    "SECTIONS",
    "Probes",
    "Problem",
    "Report",
    "build_report",
    "collect",
    "diagnose",
    "exit_code",
    "render_text",
]
