"""Build flows: QONNX export, FINN streamlining to an integer HW-layer graph, synthesis."""
