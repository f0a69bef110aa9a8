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
