"""Which OU steps see a non-zero input: the data activation zero-skipping runs on.

With ``ou.skip_zero_inputs`` (SRE-style dynamic word-line activation, Yang et al.,
ISCA 2019), a crossbar skips an OU's input bit-step when every word-line of the OU
would be driven with a zero DAC level in that step: nothing is read, converted or
shifted. Whether a step is skipped depends on the data, so the functional model
(:class:`reramsim.functional.FunctionalModel`) runs the images and, for every weight
layer, records the levels its word-lines stream (``x_int + offset``, the same
quantisation the hardware uses); step ``s`` of OU ``k`` at pixel ``p`` is *active*
when ``OR over the OU's rows of level[row, p]`` has a non-zero ``dac.bits``-wide
chunk ``s``. Only the number of active steps per (pixel, OU) matters to the
timing (skipped steps take no time), so that is what is kept: ``uint8``.

Signed inputs stream with an offset (``X0 = 2^(B-1)``), so their top bit-step is
never zero; inputs after a ReLU are unsigned and their zeros are skipped.

Example: one OU over rows {0, 1}, 4-bit inputs, 1-bit DAC; levels 0b0100 and
0b0001 OR to 0b0101: steps 0 and 2 are active, 2 of 4.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from reramsim.config import Config
from reramsim.functional import FunctionalModel, word_line_inputs
from reramsim.ir import Network, WeightLayer
from reramsim.mapping import LayerMapping, NetworkMapping

__all__ = ["active_steps", "ou_activity"]

#: Elements of the (rows x pixels) level block processed at once.
_CHUNK = 1 << 24


def active_steps(levels: np.ndarray, layer: WeightLayer, lmap: LayerMapping,
                 config: Config) -> np.ndarray:
    """Active input bit-steps of every OU at every pixel: ``(pixels, n_ou)`` uint8.

    Args:
        levels: the streamed word-line levels ``(groups*rows, pixels)``, non-negative
            integers (:func:`reramsim.functional.word_line_inputs` of the streamed input).
        layer, lmap: the layer and its mapping (OU rows and the crossbars' groups).
        config: ``dac.bits`` and the input steps.
    """
    n_ou, pixels = lmap.n_ous, levels.shape[1]
    out = np.zeros((pixels, n_ou), np.uint8)
    if not n_ou or not pixels:
        return out
    group = np.repeat(lmap.xbar_group[lmap.ou_xbar].astype(np.int64), lmap.ou_n_rows)
    rows = group * layer.rows + lmap.ou_rows.astype(np.int64)
    starts = lmap.ou_row_ptr[:-1].astype(np.int64)
    has_rows = lmap.ou_n_rows > 0
    chunk = np.uint64((1 << config.dac.bits) - 1)
    step = max(1, _CHUNK // max(1, len(rows)))
    for p0 in range(0, pixels, step):
        block = levels[rows, p0:p0 + step].astype(np.uint64)
        ored = np.zeros((n_ou, block.shape[1]), np.uint64)
        if len(rows):  # OUs without rows stay 0; the others' rows are consecutive runs
            ored[has_rows] = np.bitwise_or.reduceat(block, starts[has_rows], axis=0)
        count = np.zeros(ored.shape, np.uint8)
        for s in range(config.input_steps):
            count += ((ored >> np.uint64(s * config.dac.bits)) & chunk) != 0
        out[p0:p0 + step] = count.T
    return out


def ou_activity(network: Network, mapping: NetworkMapping, images: np.ndarray,
                calibration: Any = None) -> dict[str, np.ndarray]:
    """Active steps per (stream pixel, OU) of every weight layer for a batch of images.

    Runs the functional model of ``mapping`` on ``images`` (``(N, *input shape)``,
    float); rows are stream pixels ``n * P + p`` (image after image, raster order),
    as :func:`reramsim.plan.build_plan` streams them. ``calibration`` sets the input
    scales (default: the images themselves).

    Returns ``{layer: (N * P, n_ou) uint8}``.
    """
    model = FunctionalModel(network, mapping.config, mapping,
                            calibration=images if calibration is None else calibration)
    out: dict[str, np.ndarray] = {}

    def observe(layer: WeightLayer, x: np.ndarray, quant) -> None:
        levels = word_line_inputs(quant.streamed(x), layer, pad_value=quant.offset)
        out[layer.name] = active_steps(levels, layer, mapping.layers[layer.name],
                                       mapping.config)

    model.run(images, observe=observe)
    return out
