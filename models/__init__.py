"""The shipped models: trained weights (.pth), their ONNX exports, and the script that
trains them (``python -m models.train``). The networks themselves are defined in
:mod:`reramsim.zoo` and trained by :mod:`reramsim.training`.
"""
