"""Model zoo and training scripts for the networks the simulator evaluates.

:mod:`models.zoo` defines the networks in plain PyTorch; :mod:`models.train`
trains them on scikit-learn's digits and exports ONNX for the simulator.
Importing this package requires torch (the ``prune`` extra).
"""
