"""The core's own conditioner: ``none``. Models plug in their conditioned ones (global, gate-bias, concat)."""

from __future__ import annotations

from asmr_zoo.interfaces import Conditioner


class NoConditioner(Conditioner):
    """Unconditioned: one model per trigger, no trigger input."""

    name = "none"
    description = "unconditioned (one model per trigger)"
    conditioned = False
