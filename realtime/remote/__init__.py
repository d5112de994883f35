"""Models served by a Triton Inference Server: the wire contract, the model repository
export, the latency bench and the doctor check. The inference backend itself is
``realtime.inference.triton``; the server is Triton, the client is ``tritonclient``."""
