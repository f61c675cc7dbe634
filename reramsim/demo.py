"""A tour of reramsim in under a minute: ``python -m reramsim.demo``.

1. simulates the shipped LeNet-5 on the ISAAC config (whole-array reads) and on
   the OU-based ``ou_16x16`` config, printing the per-layer table of each;
2. sums up LeNet-5 and Plain20 on both configs, one line each;
3. compares the mapping schemes available for LeNet-5 against the dense mapping:
   a pruned ``models/lenet_<scheme>.onnx`` joins when it exists and its mapper is
   registered, mapped both densely (zeros stored) and with its scheme's mapper;
4. measures each scheme's top-1 accuracy on the 360 held-out digits, in float and
   through the functional model of the mapped hardware (acc_reram).

The same runs from the command line::

    reramsim simulate models/lenet.onnx --hw isaac
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reramsim import ReramsimError
from reramsim.accuracy import measure_accuracy
from reramsim.datasets import load_dataset
from reramsim.mapping import registered_mappers
from reramsim.pipeline import functional_model, load_model, simulate
from reramsim.report import build_report, compare, format_table, grid_lines

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
CONFIGS = ("isaac", "ou_16x16")
MODELS = ("lenet", "plain20")
#: Pruned variants the comparison looks for: scheme -> file in ``models/``.
PRUNED = {"segprune": "lenet_segprune.onnx"}


def simulate_report(model: Path, config: str, scheme: str | None = None,
                    engine: str | None = None) -> dict:
    """Simulate one ONNX file on one shipped config and return its report dict.

    ``scheme=None``: the scheme of the file's pruning metadata, else dense.
    """
    return build_report(simulate(model, config, scheme=scheme, engine=engine))


def accuracy_row(model: Path, config: str, scheme: str | None = None) -> list[str]:
    """[model, scheme, float accuracy, ReRAM accuracy] on the held-out digits.

    The functional model's input scales are calibrated on 64 training images.
    """
    network = load_model(model)
    (shape,) = network.inputs.values()
    x, y = load_dataset("digits", "test", shape)
    calibration = load_dataset("digits", "train", shape, 64)[0]
    _, hardware = functional_model(network, config, scheme=scheme, calibration=calibration)
    tally = measure_accuracy(model, hardware, x, y, batch=256, progress=False)
    return [model.stem, hardware.mapping.scheme, f"{tally.acc_float:.2%}",
            f"{tally.acc_reram:.2%}"]


def summary(reports: list[dict]) -> str:
    """One line per report: model, config, crossbars, latency, energy, area."""
    lines = [f"{'model':<10} {'config':<10} {'XBs':>5} {'latency [us]':>13} {'energy [uJ]':>12} "
             f"{'area [mm^2]':>12}  {'tiles (used/chip)':>17}"]
    for r in reports:
        t, acc = r["totals"], r["accelerator"]
        lines.append(f"{r['model']:<10} {r['config']:<10} {t['crossbars']:>5,} "
                     f"{t['latency_ns'] / 1e3:>13,.1f} {t['energy_pj'] / 1e6:>12,.3f} "
                     f"{t['area_um2'] / 1e6:>12,.2f}  "
                     f"{acc['tiles_occupied']:>8,}/{acc['tiles']:<8,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reramsim.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("cycle", "analytical"), default=None,
                        help="engine (default: cycle when available, else analytical)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        reports = {(m, c): simulate_report(MODELS_DIR / f"{m}.onnx", c, engine=args.engine)
                   for m in MODELS for c in CONFIGS}
        for config in CONFIGS:
            print(f"== LeNet-5 on {config} " + "=" * 60)
            print(format_table(reports["lenet", config]))
            print()
        print("== Summary " + "=" * 70)
        print(summary(list(reports.values())))
        print()
        print("== Mapping schemes on LeNet-5 " + "=" * 51)
        compared = [reports["lenet", "ou_16x16"]]
        accuracy = [accuracy_row(MODELS_DIR / "lenet.onnx", "ou_16x16")]
        for scheme, file in PRUNED.items():
            path = MODELS_DIR / file
            if path.exists() and scheme in registered_mappers():
                # the pruned weights mapped naively, then with the scheme's own mapper
                compared.append(simulate_report(path, "ou_16x16", "dense", args.engine))
                compared.append(simulate_report(path, "ou_16x16", scheme, args.engine))
                accuracy.append(accuracy_row(path, "ou_16x16", scheme))
            else:
                print(f"({scheme}: not shown; needs {path.relative_to(MODELS_DIR.parent)} and "
                      f"the {scheme!r} mapper)")
        print(compare(compared))
        print("\ntop-1 accuracy on 360 held-out digits: float (the ONNX model) and on the "
              "mapped ou_16x16 hardware\n(6-bit ADCs, 16-bit weights and inputs; acc_reram "
              "from the functional model)")
        header = ["model", "scheme", "float", "acc_reram"]
        print("\n".join(grid_lines(header, accuracy, right={2, 3})))
    except ReramsimError as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    print(f"\n(demo ran in {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
