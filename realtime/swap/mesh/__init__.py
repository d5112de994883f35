"""The landmark-mesh swapper (``swapper``) and its parts: the photo's face (``photo``), the warp
(``warp``, numba), face shape (``geometry``), colour (``color``), blending (``blend``), face
regions (``masks``) and who gets which photo (``cast``).

Importing the package loads nothing: the numba kernels load with ``swapper``/``warp``.
"""
