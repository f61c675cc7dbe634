"""reramsim: a cycle-level simulator of ReRAM crossbar DNN accelerators.

The data flow runs one way: ONNX file -> :mod:`reramsim.onnx_import` -> IR
(:mod:`reramsim.ir`) -> mapping (:mod:`reramsim.mapping`) -> placement ->
plan (:mod:`reramsim.plan`) -> engine -> statistics -> report. Hardware
descriptions come from YAML through :mod:`reramsim.config`. The steps every
front end shares are in :mod:`reramsim.pipeline`; the command line
(:mod:`reramsim.cli`) sits on top and nothing in the library imports it.

The Python API (:mod:`reramsim.api`) is here: ``import reramsim as rs``, then
``rs.load_model``, ``rs.load_config``, ``rs.simulate``, ``rs.sweep``.
"""

__version__ = "0.1.0"


class ReramsimError(Exception):
    """Base of every error the library raises on bad input.

    The CLI turns these into one line on stderr and a non-zero exit status;
    anything else is a bug and shows its traceback.
    """


# --- the Python API, imported on first use so `import reramsim.x` stays light -------------
_API = ("Result", "load_config", "load_model", "simulate", "sweep")


def __getattr__(name: str):
    if name in _API:
        from reramsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'reramsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
