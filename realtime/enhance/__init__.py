"""The enhance stage after the swap: a face enhancer (``enhancer``, GFPGAN) run on every Nth
frame (``every_nth``), configured by ``EnhanceConfig`` (``config``) and built by ``factory``."""
