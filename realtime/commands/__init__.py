"""Subcommands of the ``realtime`` CLI (``cameras``, ``models``, ``doctor``, ``bench``).

Each module named in ``realtime.cli.SUBCOMMANDS`` defines ``configure(parser)`` to add its
arguments and ``run(args) -> int``. They may raise ``RealtimeError``; the CLI prints it.
"""
