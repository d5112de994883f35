"""Running ONNX models: one Protocol, several backends, an explicit choice order."""
