"""Steady-state throughput and the busiest instance of every layer, from the timing plan.

A stream of images through the pipeline settles at one image every *initiation
interval* (II): every resource is a FIFO server handling its work in order, so
in steady state the busiest one sets the pace. Per image (a one-image plan):

* an input-buffer port, digital unit, output-buffer port or mesh link is busy
  ``pixels x stage cycles`` summed over the layer instances and flows that use it;
* an ADC group: ``pixels x adc_busy`` summed over its crossbars;
* a crossbar array: ``pixels x period`` (:class:`reramsim.analytical.CrossbarChains`):
  back-to-back pixels start its chain ``period`` cycles apart.

``II = max`` over those; throughput = ``1 / (II x cycle_ns)``. The engines'
``images``-long runs approach it (``docs/timing.md``, "Throughput").

Example (two layers in a row, private resources, one crossbar each): layer A has
4 pixels of period 10, layer B 1 pixel of period 25: A's crossbar is busy 40
cycles per image, B's 25, so II = 40 cycles.

Busy cycles (the engines' notion: reading for a crossbar, converting for an ADC
group, the stage duration for the rest) are the same for every engine, since
every reservation has a fixed duration; :func:`busiest_instances` names, per IR
layer, the resource instance its work keeps busiest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim.analytical import crossbar_chains
from reramsim.plan import TimingPlan

__all__ = ["Busiest", "Throughput", "busiest_instances", "initiation_interval"]


@dataclass
class Throughput:
    """The pipeline's steady state: ``ii_cycles`` per image, set by ``bottleneck``."""

    ii_cycles: int
    bottleneck: str  # resource label (a crossbar: "crossbar <i> of <layer instance>")
    bottleneck_layer: str  # the IR layer whose work is the largest share of it


@dataclass
class Busiest:
    """The resource instance one layer keeps busiest, and its busy cycles per image."""

    kind: str
    label: str
    busy_cycles: int


def _occupancy(plan: TimingPlan) -> tuple[np.ndarray, dict[int, dict[str, int]], np.ndarray]:
    """(per resource id, per-image occupancy), per resource the layers' shares, per crossbar."""
    chains = crossbar_chains(plan)
    occ = np.zeros(plan.n_resources, np.int64)
    share: dict[int, dict[str, int]] = {}

    def add(rid: int, cycles: int, layer: str) -> None:
        occ[rid] += cycles
        share.setdefault(rid, {})
        share[rid][layer] = share[rid].get(layer, 0) + cycles

    for lp in plan.layers:
        p = lp.n_pixels
        add(lp.res_fetch, p * lp.t_fetch, lp.layer_name)
        add(lp.res_unit, p * lp.t_unit, lp.layer_name)
        add(lp.res_out, p * lp.t_out, lp.layer_name)
        for flow in plan.layer_transfers(lp):
            for link, ser in zip(flow.links, flow.link_serial):
                add(link, p * ser, lp.layer_name)
            if flow.inwrites:
                add(flow.res_inwrite, p * flow.t_inwrite, lp.layer_name)
        for x in range(lp.xbar_lo, lp.xbar_hi):
            add(int(plan.xbar_adc[x]), p * int(chains.adc_busy[x]), lp.layer_name)
    pixels = np.array([plan.layers[i].n_pixels for i in plan.xbar_layer], np.int64)
    return occ, share, pixels * chains.period


def initiation_interval(plan: TimingPlan) -> Throughput:
    """The II of a one-image plan (module doc); 0 cycles for an empty plan."""
    if plan.images != 1:
        raise ValueError("initiation_interval needs a one-image plan")
    occ, share, xbar_occ = _occupancy(plan)
    best_res = int(np.argmax(occ)) if len(occ) else -1
    best_x = int(np.argmax(xbar_occ)) if len(xbar_occ) else -1
    res_ii = int(occ[best_res]) if best_res >= 0 else 0
    x_ii = int(xbar_occ[best_x]) if best_x >= 0 else 0
    if x_ii >= res_ii and best_x >= 0:
        lp = plan.layers[int(plan.xbar_layer[best_x])]
        return Throughput(x_ii, f"crossbar {int(plan.xbar_local[best_x])} of {lp.name}",
                          lp.layer_name)
    if best_res < 0:
        return Throughput(0, "-", "-")
    users = share.get(best_res, {})
    layer = max(users, key=users.__getitem__) if users else "-"
    return Throughput(res_ii, plan.res_label[best_res], layer)


def busiest_instances(plan: TimingPlan) -> dict[str, Busiest]:
    """Per IR layer, the resource instance with the most busy cycles from that layer's work.

    Crossbars count their read cycles, ADC groups their conversions, the other
    resources their stage cycles (module doc); copies of a layer are all searched.
    """
    chains = crossbar_chains(plan)
    _, share, _ = _occupancy(plan)
    best: dict[str, Busiest] = {}

    def offer(layer: str, kind: str, label: str, cycles: int) -> None:
        if layer not in best or cycles > best[layer].busy_cycles:
            best[layer] = Busiest(kind, label, int(cycles))

    for rid, users in share.items():
        for layer, cycles in users.items():
            offer(layer, plan.res_kind[rid], plan.res_label[rid], cycles)
    for x in range(len(plan.xbar_layer)):
        lp = plan.layers[int(plan.xbar_layer[x])]
        offer(lp.layer_name, "crossbar", f"crossbar {int(plan.xbar_local[x])} of {lp.name}",
              lp.n_pixels * int(chains.read_busy[x]))
    return best
