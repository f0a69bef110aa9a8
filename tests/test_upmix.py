"""The learned upmixer: the mask network's equations, block processing, save/load, training and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asmr_zoo.errors import CheckpointError
from asmr_zoo.upmix import RATE, UpmixConfig, UpmixNet, istft, load_upmixer, mid_side, save_upmixer, stft, upmix
from asmr_zoo.upmix_training import distances


def trained_like(hidden: int = 16, seed: int = 0) -> UpmixNet:
    """A small net whose output layer is not zero (a fresh one predicts no side at all)."""
    torch.manual_seed(seed)
    net = UpmixNet(UpmixConfig(hidden=hidden, layers=3))
    torch.nn.init.normal_(net.out.weight, std=0.05)
    return net.eval()


def test_a_fresh_upmixer_is_dual_mono() -> None:
    mono = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    stereo = upmix(UpmixNet(UpmixConfig(hidden=16, layers=2)), mono, RATE)
    np.testing.assert_allclose(stereo[0], mono, atol=1e-6)
    np.testing.assert_allclose(stereo[1], mono, atol=1e-6)


@pytest.mark.parametrize("rate", [RATE, 44_100])
def test_the_input_stays_the_mid(rate: int) -> None:
    mono = np.random.default_rng(1).standard_normal(rate).astype(np.float32) * 0.1
    stereo = upmix(trained_like(), mono, rate)
    assert stereo.shape == (2, rate)
    np.testing.assert_allclose(stereo.mean(axis=0), mono, atol=1e-6)  # (L + R) / 2 = M
    assert np.abs(stereo[0] - stereo[1]).max() > 1e-3  # and it does predict a side


def test_the_side_is_the_mask_times_the_mid() -> None:
    """Eq. 1: S_hat = A * M, with A bounded (tanh) in its real and imaginary parts."""
    net = trained_like()
    spec = stft(torch.randn(1, RATE // 2))
    side = net(spec)
    mask = side / spec
    assert mask.real.abs().max() <= 1 + 1e-4 and mask.imag.abs().max() <= 1 + 1e-4
    x = net.inp(torch.log(spec.abs() + 1e-5))
    for block in net.blocks:
        x = block(x)
    real, imag = torch.tanh(net.out(x)).chunk(2, dim=1)
    torch.testing.assert_close(side, torch.complex(real, imag) * spec)


def test_blocks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long input goes through in blocks whose margins cover the receptive field: same as one pass."""
    import asmr_zoo.upmix as module

    net = trained_like()
    mid = torch.randn(3 * RATE + 123) * 0.1
    whole = net.side(mid)
    monkeypatch.setattr(module, "BLOCK_SECONDS", 0.4)
    torch.testing.assert_close(net.side(mid), whole, atol=1e-6, rtol=0)
    spec = stft(mid[None] / mid.abs().max())
    torch.testing.assert_close(whole, istft(net(spec), mid.numel())[0] * mid.abs().max(), atol=1e-6, rtol=0)


def test_the_mask_looks_radius_frames_either_way() -> None:
    net = trained_like()
    spec = stft(torch.randn(1, RATE))
    frames, centre = spec.shape[-1], spec.shape[-1] // 2
    poked = spec.clone()
    poked[..., centre] *= 3
    changed = (net(poked) - net(spec)).abs().amax(dim=1)[0] > 0
    reach = changed.nonzero().flatten()
    assert reach.min() == centre - net.radius and reach.max() == centre + net.radius < frames


def test_gradients_reach_every_parameter() -> None:
    net = trained_like().train()
    net.loss(torch.randn(2, 2, RATE // 2) * 0.1).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_save_load_round_trip_and_the_wrong_kind(tmp_path: Path) -> None:
    net = trained_like()
    save_upmixer(tmp_path / "u.safetensors", net, {"step": "7"})
    again = load_upmixer(tmp_path / "u.safetensors")
    mid = torch.randn(RATE) * 0.1
    torch.testing.assert_close(again.side(mid), net.side(mid))
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_upmixer(tmp_path / "u.safetensors", sha256="0" * 64)
    from asmr_zoo.checkpoints import load_checkpoint

    with pytest.raises(CheckpointError, match=r"is an upmixer .*asmr-zoo upmix"):
        load_checkpoint(tmp_path / "u.safetensors")


def test_distances_follow_the_protocol() -> None:
    rng = np.random.default_rng(2)
    real = rng.standard_normal((2, RATE)).astype(np.float32)
    same = distances(real, real)
    assert same["stft"] == pytest.approx(0, abs=1e-9) and same["envelope"] == pytest.approx(0, abs=1e-9)
    mid, _ = mid_side(torch.from_numpy(real))
    dual = distances(np.stack([mid.numpy()] * 2), real)
    assert dual["stft"] > 0.1 and dual["envelope"] > 0.01
    # the peak normalisation: a louder copy of the same pair is as far off
    assert distances(3 * np.stack([mid.numpy()] * 2), 3 * real)["stft"] == pytest.approx(dual["stft"], rel=1e-4)


def write_panned_folder(root: Path, videos: int = 12) -> Path:
    """Stereo recordings whose side is predictable from the mid: every sound sits at one place on the left
    (R = 0.25 L), so S / M = 0.6 everywhere and a learned mask can find it."""
    rng = np.random.default_rng(3)
    folder = root / "src" / "tapping_glass"
    folder.mkdir(parents=True)
    for i in range(videos):
        t = np.arange(4 * 16_000) / 16_000
        bursts = (np.sin(2 * np.pi * 3 * t + i) > 0.6) * rng.standard_normal(t.size) * 0.3
        tone = 0.1 * np.sin(2 * np.pi * (300 + 40 * i) * t)
        left = (bursts + tone).astype(np.float32)
        sf.write(folder / f"take{i:02d}.wav", np.stack([left, 0.25 * left], axis=1), 16_000)
    return root / "src"


def test_training_learns_a_predictable_side_and_the_cli_round_trip(cli, tmp_path: Path) -> None:
    src = write_panned_folder(tmp_path)
    assert cli("data", "folder", str(src), "--out", "d", "--channels", "2").returncode == 0
    train = cli(
        "train-upmix", "--data", "d", "--out", "u.safetensors", "--steps", "120", "--batch", "8",
        "--crop-seconds", "1", "--hidden", "32", "--lr", "3e-3", "--threads", "1",
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    report = json.loads(cli("eval", "u.safetensors", "--data", "d", "--json").stdout)
    up, mono = report["distances"]["upmix"], report["distances"]["dual_mono"]
    assert up["stft"] < 0.3 * mono["stft"] and up["envelope"] < mono["envelope"]
    side_mid = report["spatial"]
    assert side_mid["upmix"]["side_mid_db"]["wasserstein"] < 0.2 * side_mid["dual_mono"]["side_mid_db"]["wasserstein"]

    sf.write(tmp_path / "mono.wav", sf.read(src / "tapping_glass" / "take00.wav")[0].mean(axis=1), 16_000)
    result = cli("upmix", "mono.wav", "-o", "out.wav", "--checkpoint", "u.safetensors")
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16_000 and audio.shape[1] == 2
    level = 10 * np.log10((audio[:, 1] ** 2).sum() / (audio[:, 0] ** 2).sum())
    assert -16 < level < -8  # R = 0.25 L is -12 dB: the learned pan

    resumed = cli("train-upmix", "--data", "d", "--out", "u.safetensors", "--steps", "130", "--resume")
    assert resumed.returncode == 0 and "step 130" in resumed.stderr


@pytest.fixture(scope="module")
def bad_input_dir(module_cli, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An upmixer, a short mono clip and a mono-only data set, shared by the bad-input cases (none writes)."""
    root = tmp_path_factory.mktemp("bad-input")
    save_upmixer(root / "u.safetensors", trained_like())
    sf.write(root / "in.wav", np.zeros(1600, np.float32), 16_000)
    mono_src = root / "msrc" / "whispering"
    mono_src.mkdir(parents=True)
    sf.write(mono_src / "a.wav", np.random.default_rng(0).standard_normal(32_000) * 0.1, 16_000)
    assert module_cli("data", "folder", str(root / "msrc"), "--out", "mono", cwd=root).returncode == 0
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["upmix", "missing.wav", "-o", "o.wav", "--checkpoint", "u.safetensors"], "does not exist"),
        (["upmix", "in.wav", "-o", "o.mp3", "--checkpoint", "u.safetensors"], "must end in .wav or .flac"),
        (["upmix", "in.wav", "-o", "o.wav", "--checkpoint", "u.safetensors", "--id", "x"], "not both"),
        (["upmix", "in.wav", "-o", "o.wav", "--id", "wavenet-global"], "not an upmixer"),
        (["train-upmix", "--data", "mono", "--out", "n.safetensors", "--steps", "2"], "has no stereo audio"),
        (["train-upmix", "--data", "mono", "--out", "u.safetensors"], "already exists"),
        (["train-upmix", "--data", "mono", "--out", "n.pt"], "must end in .safetensors"),
        (["train-upmix", "--data", "mono", "--out", "n.safetensors", "--crop-seconds", "0"], "between 0.1 and 60"),
    ],
)
def test_bad_input_is_one_line(module_cli, bad_input_dir: Path, args: list[str], message: str) -> None:
    result = module_cli(*args, cwd=bad_input_dir)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (bad_input_dir / "o.wav").exists() and not (bad_input_dir / "n.safetensors").exists()


def test_a_generator_refuses_to_be_run_as_an_upmixer_and_back(cli, tmp_path: Path) -> None:
    save_upmixer(tmp_path / "u.safetensors", trained_like())
    result = cli("run", "--checkpoint", "u.safetensors", "-o", "x.wav", "--seconds", "0.1")
    assert result.returncode != 0 and "asmr-zoo upmix" in result.stderr and "Traceback" not in result.stderr
