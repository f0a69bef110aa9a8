"""The Python API: `asmr_zoo.generate`, `asmr_zoo.load(...).generate`, `asmr_zoo.list_checkpoints`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import asmr_zoo
from asmr_zoo.errors import UsageError

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def test_import_is_light() -> None:
    code = "import sys, asmr_zoo; assert 'torch' not in sys.modules and 'numpy' not in sys.modules; asmr_zoo.load"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_generate_returns_seeded_samples_and_the_rate(zoo_home) -> None:
    audio, rate = asmr_zoo.generate("wavenet", trigger="brushing_mic", conditioner="global", seconds=0.1, seed=3)
    again, _ = asmr_zoo.generate("wavenet", trigger="brushing_mic", conditioner="global", seconds=0.1, seed=3)
    assert rate == 16000 and audio.shape == (1600,) and audio.dtype == np.float32
    assert np.array_equal(audio, again) and np.abs(audio).max() <= 1
    batch, _ = asmr_zoo.generate("wavernn", trigger="glass tapping", conditioner="concat", seconds=0.05, batch=3)
    assert batch.shape == (3, 800)


def test_load_by_id_or_path(zoo_home) -> None:
    by_id = asmr_zoo.load("wavernn-gate-bias")
    assert by_id.sample_rate == 16000 and "tapping_glass" in by_id.triggers and by_id.source == "wavernn-gate-bias"
    by_path = asmr_zoo.load(CHECKPOINTS / "wavenet-none-whispering.safetensors")
    assert by_path.triggers == ["whispering"]
    assert by_path.generate(seconds=0.05, seed=1).shape == (1, 800)  # its one trigger is the default
    with pytest.raises(UsageError, match="did you mean 'tapping_glass'"):
        by_id.generate("tapping_glas")
    with pytest.raises(UsageError, match="seconds must be in"):
        by_id.generate("tapping_glass", seconds=float("nan"))
    with pytest.raises(UsageError, match="no checkpoint with id"):
        asmr_zoo.load("no-such-id")


def test_list_checkpoints(zoo_home) -> None:
    wavenets = asmr_zoo.list_checkpoints("wavenet*")
    assert wavenets and all(c["model"] == "wavenet" for c in wavenets)
    assert {c["id"] for c in asmr_zoo.list_checkpoints("concat")} == {
        "wavernn-concat",
        "wavernn-concat-envelope",
        "wavernn-concat-bands",
        "wavernn-concat-bands-long",
        "wavernn-concat-bands-ss",
        "wavernn-concat-bands-ss-stereo",
    }
