"""Export trained (or random, for tests) networks to ONNX / OpenVINO IR with a model card."""
