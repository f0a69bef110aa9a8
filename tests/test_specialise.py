"""Folding one trigger into an unconditioned model (``specialise``, ``Model.folded_state``) and starting a
training from a trained model (``train --init``), on the shipped checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from asmr_zoo.checkpoints import load_checkpoint, read_metadata, sha256_file
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import specialise
from tests.test_wavenet_envelope import cached_against_teacher_forced
from tests.test_wavernn_envelope import stepped_against_teacher_forced

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def shipped(name: str):
    return load_checkpoint(CHECKPOINTS / f"{name}.safetensors")


@pytest.mark.parametrize(
    "name", ["wavenet-global", "wavenet-global-bands", "wavernn-gate-bias", "wavernn-concat-bands"]
)
def test_the_folded_model_computes_what_the_conditioned_one_does_for_its_trigger(name) -> None:
    model = shipped(name)
    vocabulary = list(model.conditioner.vocabulary)
    torch.manual_seed(0)
    codes = torch.randint(0, 256, (2, 2500, model.codec.heads))
    with torch.no_grad():
        for index in (0, vocabulary.index("tapping_wood")):
            folded = specialise(model, vocabulary[index])
            assert folded.conditioner.name == "none" and not folded.training
            ours, theirs = folded(codes), model(codes, torch.tensor([index, index]))
            if hasattr(ours, "frames"):  # band models: the prior's frame logits as well
                assert (ours.frames - theirs.frames).abs().max() < 1e-4
                ours, theirs = ours.samples, theirs.samples
            assert (ours - theirs).abs().max() < 1e-3
    other = model(codes, torch.tensor([1, 1]))
    assert (getattr(other, "samples", other) - ours).abs().max() > 0.1  # a trigger makes a difference


def test_folded_band_models_generate_what_they_score() -> None:
    """The folded weights through the generation loops: step by step equals the teacher-forced pass."""
    codes = torch.randint(0, 256, (1, 2 * 160 + 7, 1))
    wavenet = specialise(shipped("wavenet-global-bands"), "tapping_glass")
    assert max(cached_against_teacher_forced(wavenet, codes, None)) < 1e-3
    wavernn = specialise(shipped("wavernn-concat-bands"), "tapping_glass")
    assert max(stepped_against_teacher_forced(wavernn, codes.expand(-1, -1, 2).contiguous(), None)) < 1e-3


def test_specialise_refuses_what_it_cannot_fold() -> None:
    with pytest.raises(UsageError, match="unconditioned already"):
        specialise(shipped("wavenet-none-whispering"), "whispering")
    with pytest.raises(UsageError, match="not 'clapping'"):
        specialise(shipped("wavenet-global"), "clapping")


@pytest.fixture(scope="module")
def data(module_cli, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    made = module_cli("data", "synth", "--out", str(root / "data"), "--triggers", "tapping_glass,whispering",
                      "--minutes", "0.2")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return root / "data"


def start(data: Path, out: Path, *args: str) -> list[str]:
    init = CHECKPOINTS / "wavenet-global.safetensors"
    return ["train", "wavenet", "--data", str(data), "--init", str(init), "--out", str(out), *args]


def test_a_per_trigger_model_starts_from_the_folded_trigger_and_keeps_it_when_training_hurts(
    module_cli, data, tmp_path
) -> None:
    out = tmp_path / "glass.safetensors"
    # two steps at a learning rate that wrecks the model: keep_best keeps the scored start
    args = ["-c", "none", "-t", "tapping_glass", "train.steps=2", "train.lr=0.9", "train.warmup=0"]
    result = module_cli(*start(data, out, *args, "train.eval_every=1", "train.eval_windows=2"))
    assert result.returncode == 0, result.stderr
    assert "step 0: held-out" in result.stderr and "the weights of step 0" in result.stderr.replace("\n", " ")
    expected = specialise(shipped("wavenet-global"), "tapping_glass").state_dict()
    weights = load_file(str(out))
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], expected[k]) for k in expected)
    meta = read_metadata(out)
    init = json.loads(meta["extra.init"])
    assert init == {"checkpoint": "wavenet-global.safetensors", "sha256": sha256_file(CHECKPOINTS / init["checkpoint"])}
    assert json.loads(meta["config"])["residual_channels"] == shipped("wavenet-global").config.residual_channels


def test_a_per_trigger_model_from_a_guided_band_model_is_built_unguided(module_cli, data, tmp_path) -> None:
    """wavenet-global-bands-ss generates with trigger guidance; one trigger folded in leaves no rival to steer from."""
    out, init = tmp_path / "glass.safetensors", CHECKPOINTS / "wavenet-global-bands-ss.safetensors"
    assert shipped("wavenet-global-bands-ss").config.envelope_guidance > 0
    args = ["-c", "none", "-t", "tapping_glass", "train.steps=1", "train.eval_windows=1"]
    result = module_cli("train", "wavenet", "--data", str(data), "--init", str(init), "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert json.loads(read_metadata(out)["config"])["envelope_guidance"] == 0


def test_going_on_training_the_same_model_changes_it(module_cli, data, tmp_path) -> None:
    """--init with the same conditioner: the run continues from the source's weights (a small learning rate
    moves them a little; a fresh model would be far from them)."""
    out = tmp_path / "more.safetensors"
    model = shipped("wavenet-global")
    vocabulary = ",".join(model.conditioner.vocabulary)
    made = module_cli("data", "synth", "--out", str(tmp_path / "all"), "--triggers", vocabulary, "--minutes", "0.2")
    assert made.returncode == 0, made.stderr
    args = ["-c", "global", "train.steps=1", "train.lr=1e-5", "train.keep_best=false", "train.eval_windows=1"]
    result = module_cli(*start(tmp_path / "all", out, *args))
    assert result.returncode == 0, result.stderr
    weights, before = load_file(str(out)), model.state_dict()
    changes = [float((weights[k] - before[k]).abs().max()) for k in before]
    assert 0 < max(changes) < 1e-3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-c", "none", "-t", "tapping_glass", "--preset", "demo"), "drop --preset"),
        (("-c", "none", "-t", "tapping_glass", "model.residual_channels=8"), "change the architecture"),
        (("-c", "none"), "pass one --trigger"),
        (
            (
                "-c",
                "global",
            ),
            "with the same conditioner and triggers",
        ),
    ],
)
def test_bad_init_requests_are_one_line_errors_and_write_nothing(module_cli, data, tmp_path, args, message) -> None:
    out = tmp_path / "x.safetensors"
    result = module_cli(*start(data, out, *args, "train.steps=1"))
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_init_from_another_model_is_refused(module_cli, data, tmp_path) -> None:
    args = ["train", "wavernn", "--data", str(data), "-t", "tapping_glass", "--out", str(tmp_path / "x.safetensors")]
    result = module_cli(*args, "--init", str(CHECKPOINTS / "wavenet-global.safetensors"))
    assert result.returncode != 0 and "holds a wavenet model, not wavernn" in result.stderr
