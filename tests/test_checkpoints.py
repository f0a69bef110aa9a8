"""safetensors checkpoints: round trips, metadata, atomic writes, corrupt and mismatched files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from asmr_zoo.checkpoints import atomic_write, load_checkpoint, read_metadata, save_checkpoint, sha256_file
from asmr_zoo.errors import CheckpointError
from asmr_zoo.factory import build_model


@pytest.fixture
def bigram(example_zoo):
    torch.manual_seed(0)
    return build_model("bigram", "none", zoo=example_zoo)


def test_round_trip_gives_identical_logits_and_self_describing_metadata(bigram, example_zoo, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(path, bigram, extra={"note": "hello"})
    assert digest == sha256_file(path)
    meta = read_metadata(path)
    assert meta["model"] == "bigram" and meta["conditioner"] == "none" and meta["codec"] == "mulaw8"
    assert meta["sample_rate"] == "16000" and json.loads(meta["vocabulary"]) == []
    assert json.loads(meta["config"])["window"] == 2000
    assert meta["extra.note"] == "hello"
    loaded = load_checkpoint(path, sha256=digest, zoo=example_zoo)
    codes = torch.randint(0, 256, (2, 50, 1))
    assert torch.equal(loaded(codes), bigram(codes))
    assert not loaded.training


def test_safetensors_file_holds_no_pickle(bigram, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, bigram)
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert set(header) == {"__metadata__", "table.weight"}


def test_atomic_write_leaves_nothing_on_failure(tmp_path) -> None:
    target = tmp_path / "out.bin"

    def half_write(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt  # as if killed mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_write)
    assert list(tmp_path.iterdir()) == []


def test_sha_mismatch_names_file_and_both_hashes(bigram, example_zoo, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(path, bigram)
    wrong = "0" * 64
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, sha256=wrong, zoo=example_zoo)
    message = str(info.value)
    assert str(path) in message and wrong in message and digest in message and "\n" not in message


def test_truncated_file_is_a_clear_error(bigram, example_zoo, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, bigram)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path, zoo=example_zoo)


def test_foreign_safetensors_file_is_rejected(tmp_path, example_zoo) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not an asmr-zoo checkpoint"):
        load_checkpoint(path, zoo=example_zoo)


def test_expectations_are_checked(bigram, example_zoo, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, bigram)
    with pytest.raises(CheckpointError, match="model is 'bigram', not 'wavenet'"):
        load_checkpoint(path, expect={"model": "wavenet"}, zoo=example_zoo)


def test_weights_that_do_not_fit_the_config_are_a_clear_error(bigram, example_zoo, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, bigram)
    tensors = {"table.weight": torch.zeros(10, 10)}
    save_file(tensors, str(path), metadata={f"asmr_zoo.{k}": v for k, v in read_metadata(path).items()})
    with pytest.raises(CheckpointError, match="does not fit bigram / none"):
        load_checkpoint(path, zoo=example_zoo)


def test_written_files_get_the_usual_permissions(bigram, tmp_path) -> None:
    import os

    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, bigram)  # safetensors recreates its file: the mode must survive that
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "wavernn-gate-bias.safetensors"


def rewritten(tmp_path: Path, change_tensors=None, **meta_changes: str) -> Path:
    """The shipped gate-bias checkpoint with some tensors or metadata values replaced."""
    from safetensors.torch import load_file

    tensors = load_file(str(SHIPPED))
    if change_tensors is not None:
        tensors = change_tensors(tensors)
    meta = {**read_metadata(SHIPPED), **meta_changes}
    out = tmp_path / "changed.safetensors"
    save_file(tensors, str(out), metadata={f"asmr_zoo.{k}": v for k, v in meta.items()})
    return out


def test_a_config_that_contradicts_the_tensors_fails_before_allocating(tmp_path) -> None:
    config = json.loads(read_metadata(SHIPPED)["config"])
    huge = rewritten(tmp_path, config=json.dumps({**config, "hidden": 400_000}))  # ~2 TB of weights if built
    with pytest.raises(CheckpointError, match=r"gru.weight_ih_l0 is \[384, 19\] in the file but the config makes"):
        load_checkpoint(huge)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: {**t, "O1.weight": t["O1.weight"].to(torch.int8)}, "O1.weight holds int8 data"),
        (lambda t: {**t, "O1.weight": t["O1.weight"].clone().fill_(float("nan"))}, "NaN or infinite"),
        (lambda t: {**t, "gru.bias_hh_l0": t["gru.bias_hh_l0"] / 0}, "NaN or infinite"),
    ],
)
def test_unusable_weight_values_are_clear_errors(tmp_path, change, message) -> None:
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(rewritten(tmp_path, change))


def test_float64_weights_load_as_the_same_model(tmp_path) -> None:
    double = rewritten(tmp_path, lambda t: {k: v.double() for k, v in t.items()})
    a, b = load_checkpoint(SHIPPED), load_checkpoint(double)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
