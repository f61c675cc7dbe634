"""reramsim: a cycle-level simulator of ReRAM crossbar DNN accelerators.

The data flow runs one way: ONNX file -> :mod:`reramsim.onnx_import` -> IR
(:mod:`reramsim.ir`) -> mapping (:mod:`reramsim.mapping`) -> placement ->
plan (:mod:`reramsim.plan`) -> engine -> statistics -> report. Hardware
descriptions come from YAML through :mod:`reramsim.config`. The steps every
front end shares are in :mod:`reramsim.pipeline`; the command line
(:mod:`reramsim.cli`) sits on top and nothing in the library imports it.
"""

__version__ = "0.1.0"


class ReramsimError(Exception):
    """Base of every error the library raises on bad input.

    The CLI turns these into one line on stderr and a non-zero exit status;
    anything else is a bug and shows its traceback.
    """
