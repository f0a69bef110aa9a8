"""WaveRNN's conditioners. They own the trigger vocabulary; the model owns the parameters."""

from __future__ import annotations

from asmr_zoo.interfaces import Conditioner


class GateBias(Conditioner):
    """Eq. 2: a trigger embedding through a dense layer, V_u h, V_r h, V_e h added to the gates."""

    name = "gate-bias"
    description = "WaveRNN eq. 2: trigger embedding through a dense layer, added to the gates"


class Concat(Conditioner):
    """Eq. 3: gate bias, plus the trigger embedding b concatenated to h_{t-1} where R reads it."""

    name = "concat"
    description = "WaveRNN eq. 3: gate bias plus the trigger embedding concatenated to the state R reads"
