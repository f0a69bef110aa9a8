"""Conditioners own the conditioning vector: blends of triggers (the request -> weights -> a mix of the
model's trigger embeddings), on shipped weights, from the API and the CLI; and a plugin conditioner that
works with the built-in models through their own equations."""

from __future__ import annotations

import os
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
import soundfile as sf
import torch

from asmr_zoo.api import load, parse_triggers
from asmr_zoo.checkpoints import load_checkpoint, save_checkpoint
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.plugins import Zoo, get_zoo
from tests.conftest import make_plugin_dist

pytestmark = pytest.mark.usefixtures("one_thread")
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
TRIGGERS = ["tapping_glass", "whispering", "brushing_mic"]

SCALED = '''
from asmr_zoo import hookimpl
from asmr_zoo.interfaces import Conditioner


class Scaled(Conditioner):
    """The built-in equation of ``injection``, fed twice the trigger embedding."""

    name = "scaled"
    injection = "global"
    description = "twice the trigger embedding, injected by WaveNet eq. 6"

    def vectors(self, cond, table):
        return 2 * super().vectors(cond, table)


class ScaledConcat(Scaled):
    name = "scaled-concat"
    injection = "concat"


@hookimpl
def register_conditioners(register):
    register("scaled", "zoo_scaled:Scaled", Scaled.description)
    register("scaled-concat", "zoo_scaled:ScaledConcat", "twice the trigger embedding, WaveRNN eq. 3")
'''


@pytest.fixture
def scaled_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    make_plugin_dist(site, "zoo-scaled", "zoo_scaled", SCALED, entry_name="scaled")
    return site


@pytest.fixture
def scaled_zoo(scaled_site: Path, monkeypatch: pytest.MonkeyPatch) -> Zoo:
    monkeypatch.syspath_prepend(str(scaled_site))
    zoo = Zoo()
    zoo.load_entry_points([*entry_points(group="asmr_zoo"), EntryPoint("scaled", "zoo_scaled", "asmr_zoo")])
    return zoo


def test_encode_gives_indices_or_normalised_blend_weights() -> None:
    conditioner = get_zoo().load("conditioners", "global")(TRIGGERS)
    assert conditioner.encode(["whispering", "tapping_glass"]).tolist() == [1, 0]
    weights = conditioner.encode([{"tapping_glass": 3, "brushing_mic": 1}, "whispering"])
    assert weights.dtype == torch.float32 and weights.tolist() == [[0.75, 0.0, 0.25], [0.0, 1.0, 0.0]]
    for bad, message in [
        ({"tapping_glass": 0}, "finite numbers > 0"),
        ({"tapping_glass": float("nan")}, "finite numbers > 0"),
        ({"tapping_glass": -1, "whispering": 2}, "tapping_glass=-1"),
        ({"tapping_wood": 1}, "not in this model's vocabulary"),
        ({}, "an empty blend"),
    ]:
        with pytest.raises(UsageError, match=message):
            conditioner.encode([bad])


def test_trigger_values_parse_into_one_trigger_or_a_blend() -> None:
    assert parse_triggers(None) is None and parse_triggers(["glass tapping"]) == "glass tapping"
    assert parse_triggers(["tapping_glass=0.7", "brushing_mic=0.3"]) == {"tapping_glass": 0.7, "brushing_mic": 0.3}
    for bad, message in [
        (["tapping_glass", "brushing_mic"], "give each a weight"),
        (["tapping_glass=abc"], "is not a number"),
        (["tapping_glass=1", "tapping_glass=2"], "given twice"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_triggers(bad)


@pytest.mark.parametrize("checkpoint", ["wavenet-global-envelope", "wavernn-concat"])
def test_a_blend_mixes_the_trigger_embeddings_of_shipped_weights(checkpoint) -> None:
    model = load_checkpoint(CHECKPOINTS / f"{checkpoint}.safetensors", zoo=get_zoo())
    conditioner = model.conditioner
    blend = conditioner.encode([{"tapping_glass": 0.7, "brushing_mic": 0.3}])
    table = model.trigger_embeddings()
    index = {t: i for i, t in enumerate(conditioner.vocabulary)}
    expected = 0.7 * table[index["tapping_glass"]] + 0.3 * table[index["brushing_mic"]]
    assert torch.allclose(conditioner.vectors(blend, table)[0], expected, atol=1e-6)
    with torch.no_grad():  # a one-trigger "blend" is that trigger, bit for bit
        one_hot = conditioner.encode([{"whispering": 5.0}])
        runs = []
        for cond in (conditioner.encode(["whispering"]), one_hot):
            policy = SamplingPolicy(generator=torch.Generator().manual_seed(3))
            runs.append(model.generate_fast(400, model.init_state(1, cond), policy))
    assert torch.equal(*runs)


def test_the_api_generates_a_blend_between_its_triggers() -> None:
    gen = load("wavenet-global-envelope")
    mix = gen.generate({"tapping_glass": 0.5, "whispering": 0.5}, seconds=0.2, seed=1)
    assert mix.shape == (1, round(0.2 * gen.sample_rate)) and mix.std() > 0
    with pytest.raises(UsageError, match="names unknown material 'mud'"):
        gen.generate({"tapping_glass": 0.5, "tapping_mud": 0.5}, seconds=0.1)
    with pytest.raises(UsageError, match="blends need a conditioned model"):
        load("wavenet-none-whispering").generate({"whispering": 1.0}, seconds=0.1)


@pytest.mark.parametrize(("model_name", "conditioner"), [("wavenet", "scaled"), ("wavernn", "scaled-concat")])
def test_a_plugin_conditioner_works_with_a_built_in_model(scaled_zoo, tmp_path, model_name, conditioner) -> None:
    model = build_model(model_name, conditioner, TRIGGERS, preset="tiny", zoo=scaled_zoo).train()
    assert model.conditioner.equation() == scaled_zoo.load("conditioners", conditioner).injection
    codes = torch.randint(0, 256, (2, 300, model.codec.heads))
    cond = model.conditioner.encode(["whispering", {"tapping_glass": 0.5, "brushing_mic": 0.5}])
    loss = model.loss_from_logits(model(codes, cond), codes)
    loss.backward()
    table = model.trigger_embeddings()
    grad = (model.trigger_embedding if model_name == "wavenet" else model.embedding).weight.grad
    assert (grad.abs().sum(dim=1) > 0).all()  # every trigger's row learns (whispering, and the blend's two)
    assert torch.allclose(model.conditioner.vectors(cond, table), 2 * cond @ table)  # the plugin's vector
    path = tmp_path / "scaled.safetensors"
    save_checkpoint(path, model)
    loaded = load_checkpoint(path, zoo=scaled_zoo).eval()
    assert type(loaded.conditioner).__name__ == type(model.conditioner).__name__
    with torch.no_grad():
        assert torch.equal(loaded(codes, cond), model.eval()(codes, cond))


def test_the_cli_runs_a_blend_and_a_plugin_conditioner_checkpoint(cli, scaled_zoo, scaled_site, tmp_path) -> None:
    result = cli("run", "wavenet", "-c", "global", "-t", "tapping_glass=0.7", "-t", "brushing_mic=0.3", "-s", "0.1")
    assert result.returncode == 0, result.stderr
    written = [line for line in result.stderr.splitlines() if line.startswith("wrote ")]
    assert written and "wavenet-global-tapping_glass+brushing_mic.wav" in written[0]
    for args, message in [
        (["-t", "tapping_glass", "-t", "brushing_mic"], "give each a weight"),
        (["-t", "tapping_glass=x"], "is not a number"),
        (["-c", "none", "-t", "whispering=1"], "blends need a conditioned model"),
    ]:
        bad = cli("run", "wavenet", *args, "-s", "0.1")
        assert bad.returncode != 0 and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and message in bad.stderr
    model = build_model("wavenet", "scaled", TRIGGERS, preset="tiny", zoo=scaled_zoo)
    path = tmp_path / "scaled.safetensors"
    save_checkpoint(path, model)
    out = tmp_path / "scaled.wav"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(scaled_site), os.environ.get("PYTHONPATH")]))}
    ran = cli("run", "--checkpoint", str(path), "-t", "whispering", "-s", "0.1", "-o", str(out), env=env)
    assert ran.returncode == 0, ran.stderr
    assert sf.info(out).frames == round(0.1 * model.sample_rate)
    listed = cli("list", "--json", env=env)
    assert "scaled" in listed.stdout
