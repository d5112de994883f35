"""Measuring swap quality from outside: an independent judge (dlib's models, never used at run
time) and the harness that runs the mesh swapper on the bundled photos and scores it.

Shared by ``tools/eval_quality.py`` and the quality tests in ``tests/swap``, so the numbers the
tool prints are the ones the tests assert. Needs the ``test`` extra (dlib).
"""
