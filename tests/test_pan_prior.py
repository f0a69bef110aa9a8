"""The stereo pan prior: frame ILDs, equal-power rendering, the prior's causality and sampling, training, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asmr_zoo.errors import CheckpointError, UsageError
from asmr_zoo.pan_prior import (
    FRAME_SECONDS,
    LEVELS,
    PanPrior,
    frame_ild,
    level_db,
    load_pan_prior,
    quantise,
    render,
    save_pan_prior,
)
from asmr_zoo.paths import shipped_registry

RATE = 16_000
SHIPPED = shipped_registry().parent / "checkpoints" / "pan-prior.safetensors"
CONCAT = SHIPPED.parent / "wavernn-concat-bands-ss.safetensors"


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("ild", [-24.0, -6.0, 0.0, 3.0, 18.0])
def test_render_places_the_sound_at_the_asked_ild_with_equal_power(ild: float) -> None:
    mono = noise(1.0)
    stereo = render(mono, RATE, np.full(20, ild))
    np.testing.assert_allclose(frame_ild(stereo, RATE), ild, atol=1e-3)
    np.testing.assert_allclose(np.square(stereo).sum(0), 2 * np.square(mono), rtol=1e-4)  # L^2 + R^2 = 2 m^2
    if ild == 0:
        np.testing.assert_allclose(stereo[0], mono, atol=1e-6)  # the centre is dual mono


def test_quiet_frames_hold_the_last_loud_ild() -> None:
    mono = noise(1.0)
    mono[int(0.5 * RATE) :] *= 1e-4  # the second half is quiet (-100 dBFS): it carries no direction
    left_then_right = np.where(np.arange(20) < 10, -12.0, 12.0)
    ild = frame_ild(render(mono, RATE, left_then_right), RATE)
    frames = round(1 / FRAME_SECONDS)
    np.testing.assert_allclose(ild[: frames // 2 - 1], -12, atol=1e-3)
    np.testing.assert_allclose(ild[frames // 2 :], ild[frames // 2 - 1], atol=1e-9)
    assert np.all(frame_ild(np.zeros((2, RATE)), RATE) == 0)


def test_levels_round_trip_within_half_a_step() -> None:
    ild = np.linspace(-30, 30, 241)
    assert np.abs(level_db(quantise(ild)) - ild).max() <= 1.0 + 1e-9
    assert quantise(np.array([-99.0, 99.0])).tolist() == [0, LEVELS - 1]


def fresh(seed: int = 0) -> PanPrior:
    torch.manual_seed(seed)
    return PanPrior(["massaging_bi_mic", "whispering"], hidden=16).eval()


def priors() -> list[PanPrior]:
    """A fresh prior, and the shipped one (trained weights) when it is there."""
    return [fresh(), *([load_pan_prior(SHIPPED)] if SHIPPED.exists() else [])]


@pytest.mark.parametrize("prior", priors(), ids=lambda p: f"hidden{p.hidden}")
def test_the_prior_is_causal_and_sampling_equals_teacher_forcing(prior: PanPrior) -> None:
    levels = torch.randint(0, LEVELS, (1, 40))
    h = prior.triggers(torch.tensor([0]))
    logits = prior.prior(levels[..., None], h)
    poked = levels.clone()
    poked[0, 25] = (poked[0, 25] + 7) % LEVELS
    changed = (prior.prior(poked[..., None], h) - logits).abs().amax(dim=(0, 2, 3)) > 0
    assert not changed[:26].any() and changed[26:].all()  # frame k is predicted from frames < k only
    # drawing greedily step by step gives the teacher-forced argmax of the drawn sequence
    previous, state = prior.prior.start(1)
    drawn = []
    for _ in range(30):
        previous, state = prior.prior.step(previous, state, h, lambda x: x.argmax(-1))
        drawn.append(int(previous[0, 0, 0]))
    forced = prior.prior(torch.tensor([drawn])[..., None], h)
    assert forced.argmax(-1)[0, :, 0].tolist() == drawn


def test_gradients_reach_every_parameter() -> None:
    prior = fresh().train()
    prior.loss(torch.randint(0, LEVELS, (3, 20)), torch.tensor([0, 1, 0])).backward()
    for name, p in prior.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_save_load_round_trip_and_bad_files(tmp_path: Path) -> None:
    prior = fresh()
    save_pan_prior(tmp_path / "p.safetensors", prior)
    again = load_pan_prior(tmp_path / "p.safetensors")
    assert again.vocabulary == prior.vocabulary
    np.testing.assert_array_equal(again.sample("whispering", 50, seed=4), prior.sample("whispering", 50, seed=4))
    assert not np.array_equal(prior.sample("whispering", 50, seed=4), prior.sample("whispering", 50, seed=5))
    with pytest.raises(UsageError, match="not 'tapping_wood'"):
        prior.sample("tapping_wood", 5)
    from asmr_zoo.checkpoints import load_checkpoint
    from asmr_zoo.upmix import UpmixConfig, UpmixNet, save_upmixer

    with pytest.raises(CheckpointError, match="is a stereo pan prior, not a generator"):
        load_checkpoint(tmp_path / "p.safetensors")
    save_upmixer(tmp_path / "u.safetensors", UpmixNet(UpmixConfig(hidden=8, layers=1)))
    with pytest.raises(CheckpointError, match="not a stereo pan prior"):
        load_pan_prior(tmp_path / "u.safetensors")


def write_sided_folder(root: Path) -> Path:
    """Stereo recordings whose place depends on the trigger: whispering in the left ear (ILD -18 dB), brushing
    in the right (+18 dB), 10 takes each."""
    for trigger, ild in (("whispering", -18.0), ("brushing_mic", 18.0)):
        folder = root / "src" / trigger
        folder.mkdir(parents=True)
        for i in range(10):
            stereo = render(noise(3.0, seed=i), RATE, np.full(60, ild + (i % 3 - 1)))
            sf.write(folder / f"take{i:02d}.wav", stereo.T, RATE)
    return root / "src"


def test_training_learns_where_each_trigger_sits_and_eval_says_so(cli, tmp_path: Path) -> None:
    src = write_sided_folder(tmp_path)
    assert cli("data", "folder", str(src), "--out", "d", "--channels", "2").returncode == 0
    train = cli("train-pan", "--data", "d", "--out", "p.safetensors", "--steps", "150", "--hidden", "16")
    assert train.returncode == 0, train.stderr
    prior = load_pan_prior(tmp_path / "p.safetensors")
    assert prior.sample("whispering", 40, seed=1).mean() < -12 and prior.sample("brushing_mic", 40, seed=1).mean() > 12
    report = json.loads(cli("eval", "p.safetensors", "--data", "d", "--json").stdout)
    ild = {m: report["mean"][m]["ild_db"] for m in ("pan_prior", "dual_mono", "constant_pan")}
    assert ild["pan_prior"] < 3 < ild["dual_mono"] and ild["pan_prior"] < ild["constant_pan"]
    resumed = cli("train-pan", "--data", "d", "--out", "p.safetensors", "--steps", "160", "--resume")
    assert resumed.returncode == 0 and "step 160" in resumed.stderr
    if not CONCAT.exists():
        return
    # what a user gets: clips a shipped generator makes for the two triggers, placed by the prior
    generated = cli(
        "eval", "p.safetensors", "--data", "d", "--generator", str(CONCAT), "--clips", "1", "--seconds", "1", "--json"
    )
    assert generated.returncode == 0, generated.stderr
    report = json.loads(generated.stdout)
    assert report["mids"] == f"clips generated by {CONCAT.name}" and report["clips"] == 2
    assert sorted(report["triggers"]) == ["brushing_mic", "whispering"]
    ild = {m: report["mean"][m]["ild_db"] for m in ("pan_prior", "dual_mono", "constant_pan")}
    # one 1 s clip per trigger: the prior's few draws spread more than on the real mids above (3.3 dB measured)
    assert ild["pan_prior"] < ild["dual_mono"] / 4 and ild["pan_prior"] < ild["constant_pan"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--clips", "0"], "--generator places generated clips: give --clips 1 or more"),
        (["--seconds", "0"], "--seconds must be a positive number"),
        (["--clips", "2000"], "lower --clips to at most"),
        (["--generator-is", "p.safetensors"], "is a stereo pan prior, not a generator"),
        (["--generator-is", "missing.safetensors"], "missing.safetensors"),
        (["--generator-is", str(SHIPPED.parent / "wavenet-none-tapping-wood.safetensors")], "none of which the pan"),
        (["--eval-generator"], "--generator is for a pan prior's eval"),
        (["--guidance", "2"], "--guidance steers a generator's envelope prior; p.safetensors is a stereo pan prior"),
    ],
)
def test_eval_generator_bad_inputs_are_one_line(cli, tmp_path: Path, extra: list[str], message: str) -> None:
    src = write_sided_folder(tmp_path)
    assert cli("data", "folder", str(src), "--out", "d", "--channels", "2").returncode == 0
    save_pan_prior(tmp_path / "p.safetensors", fresh())
    checkpoint, generator = "p.safetensors", str(CONCAT)
    if extra[0] == "--generator-is":
        generator, extra = extra[1], []
    elif extra[0] == "--eval-generator":
        checkpoint, extra = str(CONCAT), []
    result = cli("eval", checkpoint, "--data", "d", "--generator", generator, "--clips", "1", "--seconds", "1", *extra)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not result.stdout


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped pan prior")
def test_run_with_two_channels_places_the_trigger_as_recorded(cli, tmp_path: Path, zoo_home: Path) -> None:
    args = ["run", "wavernn", "-c", "concat", "-t", "massaging_bi_mic", "--seconds", "2", "--seed", "1"]
    result = cli(*args, "--channels", "2", "-o", "s.wav")
    assert result.returncode == 0, result.stderr
    stereo, rate = sf.read(tmp_path / "s.wav")
    assert stereo.shape == (2 * rate, 2)
    assert np.abs(frame_ild(stereo.T, rate)).max() > 3  # it moves off the centre
    assert cli(*args, "-o", "m.wav").returncode == 0
    mono, _ = sf.read(tmp_path / "m.wav")
    # the same mono, placed: equal power keeps L^2 + R^2 = 2 m^2, up to one gain for the whole clip (a hard pan
    # is 3 dB louder in one ear, so the peak may be brought under -1 dBFS, with a note) and 16-bit rounding
    gain2 = np.square(stereo).sum() / (2 * np.square(mono).sum())
    assert gain2 <= 1 + 1e-3 and (gain2 > 1 - 1e-3 or "after panning" in result.stderr)
    np.testing.assert_allclose(np.square(stereo).sum(1), gain2 * 2 * np.square(mono), atol=2e-4)


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped pan prior")
def test_a_stereo_checkpoint_is_stereo_and_a_mono_one_names_the_other_ways(cli, tmp_path: Path, zoo_home: Path) -> None:
    short = ["--seconds", "0.5", "--seed", "2"]
    stereo = cli("run", "--id", "wavernn-concat-bands-ss-stereo", "-t", "whispering", *short, "-o", "s.wav")
    assert stereo.returncode == 0, stereo.stderr
    assert sf.read(tmp_path / "s.wav")[0].shape == (8000, 2)  # a stereo entry writes 2 channels by default
    mono = cli("run", "--id", "wavernn-concat-bands-ss-stereo", "-t", "whispering", *short, "--channels", "1")
    assert mono.returncode == 0 and sf.read(tmp_path / "wavernn-concat-whispering.wav")[0].shape == (8000,)
    listing = cli("list", "--kind", "checkpoints", "wavernn-concat-bands-ss*").stdout
    assert "wavernn/concat (stereo)" in listing
    for args in (
        ["--checkpoint", str(CONCAT)],
        ["--id", "wavernn-concat-bands-ss"],
        ["wavenet", "-c", "none"],  # the per-trigger models have no stereo variant
    ):
        result = cli("run", *args, "-t", "whispering", *short, "--channels", "2", "-o", "x.wav")
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and "--spatialize PATH" in lines[0], result.stderr
        assert "mono checkpoint" in lines[0] or "no stereo wavenet / none checkpoint" in lines[0]
        assert not (tmp_path / "x.wav").exists()
    spatial = cli("run", "--checkpoint", str(CONCAT), "-t", "whispering", *short, "--spatialize", "left", "-o", "l.wav")
    assert spatial.returncode == 0 and sf.read(tmp_path / "l.wav")[0].shape == (8000, 2)


def test_a_trained_pan_prior_registers_and_the_registry_lists_it(cli, tmp_path: Path, zoo_home: Path) -> None:
    save_pan_prior(tmp_path / "p.safetensors", fresh())
    result = cli("register", "p.safetensors", "--id", "my-pan", "--no-default")
    assert result.returncode == 0, result.stderr
    listing = json.loads(cli("list", "--kind", "checkpoints", "--json").stdout)["checkpoints"]
    assert {"id": "my-pan", "model": "pan-prior"}.items() <= next(r for r in listing if r["id"] == "my-pan").items()
