"""Models as data: manifests (``manifest``), the file cache (``store``), downloads (``download``).

Pure data below the model layer: opening a model as a session is ``realtime.inference.models``.
"""
