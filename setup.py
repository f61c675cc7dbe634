"""Build script: the package plus the Cython event engine under reramsim/_core.

A build (wheel, ``pip install .``) also copies the top-level ``hw_configs/*.yaml`` and
``models/*.onnx|pth`` into ``reramsim/_data/`` as package data; no top-level ``models``
package is installed (pyproject.toml's package list holds ``reramsim`` only).

Compiler directives are set once here. ``RERAMSIM_CYTHON_DEBUG=1`` turns bounds
and wrap-around checks back on for debugging the engine. Before compiling, the
engine's contract (reramsim/_core/contract.py: input fields, event kinds) is written
as Cython declarations to reramsim/_core/_contract.pxi, a build output.
"""
import glob
import importlib.util
import os
import platform
import shutil
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
#: Package data copied from the repository's top level into reramsim/_data/ of a build
#: (wheel, ``pip install .``): folder -> file patterns. reramsim.resources reads them.
SHIPPED = {"hw_configs": ("*.yaml",), "models": ("*.onnx", "*.pth")}

DEBUG = os.environ.get("RERAMSIM_CYTHON_DEBUG", "0") == "1"
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": True,
    "initializedcheck": DEBUG,
}
CORE = os.path.join(ROOT, "reramsim", "_core")


class BuildWithData(build_py):
    """build_py that also copies the shipped configs and small models into the package."""

    def run(self) -> None:
        super().run()
        for folder, patterns in SHIPPED.items():
            target = os.path.join(self.build_lib, "reramsim", "_data", folder)
            os.makedirs(target, exist_ok=True)
            for pattern in patterns:
                for path in sorted(glob.glob(os.path.join(ROOT, folder, pattern))):
                    shutil.copy2(path, target)


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


#: Extra compiler flags per kernel: the functional model's popcount kernel uses the x86-64
#: POPCNT instruction (every x86-64 CPU since 2008) instead of a software bit count.
MACHINE_FLAGS = {"_bitserial.pyx": ["-mpopcnt"]} if platform.machine().lower() in (
    "x86_64", "amd64") else {}

write_contract_pxi()
extensions = [
    Extension(
        "reramsim._core." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", *MACHINE_FLAGS.get(os.path.basename(path), [])],
    )
    for path in sorted(glob.glob("reramsim/_core/*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, quiet=True),
      cmdclass={"build_py": BuildWithData})
