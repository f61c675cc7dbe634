"""Build script: the package plus the Cython event engine under reramsim/_core.

Compiler directives are set once here. ``RERAMSIM_CYTHON_DEBUG=1`` turns bounds
and wrap-around checks back on for debugging the engine. Before compiling, the
engine's contract (reramsim/_core/contract.py: input fields, event kinds) is written
as Cython declarations to reramsim/_core/_contract.pxi, a build output.
"""
import glob
import importlib.util
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("RERAMSIM_CYTHON_DEBUG", "0") == "1"
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": True,
    "initializedcheck": DEBUG,
}
CORE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reramsim", "_core")


def write_contract_pxi() -> None:
    """(Re)write _contract.pxi from contract.py; untouched when unchanged (no rebuild)."""
    spec = importlib.util.spec_from_file_location("_reramsim_contract",
                                                  os.path.join(CORE, "contract.py"))
    contract = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = contract  # dataclasses look their module up there
    spec.loader.exec_module(contract)
    text = contract.cython_declarations()
    path = os.path.join(CORE, "_contract.pxi")
    if not os.path.isfile(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


write_contract_pxi()
extensions = [
    Extension(
        "reramsim._core." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for path in sorted(glob.glob("reramsim/_core/*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, quiet=True))
