"""The built-in codecs: known mu-law values, exact pcm16 round trips, clipping, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from asmr_zoo.errors import DataError
from asmr_zoo_codecs.codecs import PCM16, MuLaw8


def test_mulaw_known_values() -> None:
    codec = MuLaw8()
    wav = torch.tensor([-1.0, 0.0, 1.0, 0.5, -0.5, 0.01])
    expected = [round((math.copysign(math.log1p(255 * abs(x)) / math.log1p(255), x) + 1) / 2 * 255) for x in wav]
    assert codec.encode(wav)[..., 0].tolist() == expected
    assert expected[:3] == [0, 128, 255]
    assert codec.silence == (128,)


def test_mulaw_round_trip_error_is_small_and_companded() -> None:
    codec = MuLaw8()
    wav = torch.linspace(-1, 1, 10001)
    err = (codec.decode(codec.encode(wav)) - wav).abs()
    quiet, loud = err[wav.abs() < 0.01].max(), err[wav.abs() > 0.9].max()
    assert quiet < 3e-4 and 0.015 < loud < 0.04  # finer steps near zero: that is what mu-law is for
    codes = torch.arange(256).unsqueeze(-1)
    assert torch.equal(codec.encode(codec.decode(codes)), codes)  # every class decodes and re-encodes


def test_pcm16_exact_round_trip_on_every_int16_value() -> None:
    codec = PCM16()
    ints = torch.arange(-32768, 32768)
    wav = ints.double() / 32768
    codes = codec.encode(wav.float())
    assert codes.shape == (65536, 2) and codes.min() >= 0 and codes.max() <= 255
    assert torch.equal((codes[:, 0] * 256 + codes[:, 1]) - 32768, ints)
    assert torch.equal(codec.decode(codes), wav.float())
    assert codec.silence == (128, 0)


def test_out_of_range_input_is_clipped() -> None:
    for codec in (MuLaw8(), PCM16()):
        codes = codec.encode(torch.tensor([-3.0, 7.0]))
        assert torch.equal(codes, codec.encode(torch.tensor([-1.0, 1.0])))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_inf_are_rejected(bad: float) -> None:
    for codec in (MuLaw8(), PCM16()):
        with pytest.raises(DataError, match="NaN or infinite"):
            codec.encode(torch.tensor([0.0, bad]))


def test_integer_input_is_rejected() -> None:
    with pytest.raises(DataError, match="float waveform"):
        MuLaw8().encode(torch.tensor([1, 2]))
