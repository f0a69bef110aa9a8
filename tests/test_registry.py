"""The registry: lookup, the user registry, and bad input through the real CLI (one line, non-zero, nothing written)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from asmr_zoo.checkpoints import save_checkpoint, sha256_file
from asmr_zoo.errors import RegistryError, UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.registry import Registry, read_registry_file


def _entry(path: Path, **changes) -> dict:
    entry = {
        "id": "bigram-glass",
        "model": "bigram",
        "conditioner": "none",
        "triggers": ["tapping_glass"],
        "codec": "mulaw8",
        "sample_rate": 16000,
        "weights": {"path": f"checkpoints/{path.name}", "sha256": sha256_file(path), "size": path.stat().st_size},
        "metrics": {"test_bits_per_sample": 5.0},
        "license": "CC0-1.0",
    }
    entry.update(changes)
    return entry


@pytest.fixture
def home(tmp_path: Path, example_zoo) -> Path:
    """An ASMR_ZOO_HOME with one real bigram checkpoint registered for tapping_glass."""
    home = tmp_path / "home"
    (home / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    save_checkpoint(home / "checkpoints" / "bigram.safetensors", build_model("bigram", "none", zoo=example_zoo))
    _write(home, [_entry(home / "checkpoints" / "bigram.safetensors")])
    return home


def _write(home: Path, entries: list, version: int = 1) -> None:
    (home / "registry.yaml").write_text(yaml.safe_dump({"schema_version": version, "entries": entries}))


def _run(python: Path, home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "asmr_zoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "ASMR_ZOO_HOME": str(home), "COLUMNS": "200"},
        timeout=300,
    )


RUN = ("run", "bigram", "--trigger", "tapping_glass", "--seconds", "0.1", "--seed", "1", "-o", "out.wav")


def test_run_resolves_the_user_registry_and_writes_a_wav(example_venv, home, tmp_path) -> None:
    result = _run(example_venv, home, tmp_path, *RUN)
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16000 and len(audio) == 1600
    again = _run(example_venv, home, tmp_path, *RUN[:-1], "again.wav")
    assert (sf.read(tmp_path / "again.wav")[0] == audio).all()  # same seed, same audio
    listing = json.loads(_run(example_venv, home, tmp_path, "list", "--json", "--kind", "checkpoints").stdout)
    assert "bigram-glass" in {row["id"] for row in listing["checkpoints"]}
    info = json.loads(_run(example_venv, home, tmp_path, "info", "bigram-glass", "--json").stdout)
    assert info["metrics"] == {"test_bits_per_sample": 5.0}
    assert again.returncode == 0


def _break(home: Path, how: str) -> None:
    ckpt = home / "checkpoints" / "bigram.safetensors"
    if how == "corrupt-yaml":
        (home / "registry.yaml").write_text("entries: [\n  - id: x\n   bad: indent: here\n")
    elif how == "missing-weights":
        ckpt.unlink()
    elif how == "sha-mismatch":
        _write(home, [_entry(ckpt, weights={**_entry(ckpt)["weights"], "sha256": "ab" * 32})])
    elif how == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:-64])
        _write(home, [_entry(ckpt)])  # sha and size of the truncated file: the parse must catch it
    elif how == "size-mismatch":
        ckpt.write_bytes(ckpt.read_bytes()[:-64])
    elif how == "metadata-mismatch":
        _write(home, [_entry(ckpt, sample_rate=22050)])
    elif how == "path-escape":
        _write(home, [_entry(ckpt, weights={**_entry(ckpt)["weights"], "path": "../../etc/passwd"})])
    elif how == "missing-key":
        entry = _entry(ckpt)
        del entry["codec"]
        _write(home, [entry])
    elif how == "newer-schema":
        _write(home, [_entry(ckpt)], version=99)
    elif how == "yaml-trap":
        _write(home, [_entry(ckpt, triggers=[False])])  # what an unquoted `no` becomes
    elif how == "quoted-default":
        _write(home, [_entry(ckpt, default="false")])  # a string, which bool() would read as True


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("corrupt-yaml", "is not valid YAML at line"),
        ("missing-weights", "is missing"),
        ("sha-mismatch", "sha256 mismatch"),
        ("truncated", "not a readable safetensors file"),
        ("size-mismatch", "truncated or replaced"),
        ("metadata-mismatch", "sample_rate is '16000', not '22050'"),
        ("path-escape", "escapes the registry's directory"),
        ("missing-key", "missing required key 'codec'"),
        ("newer-schema", "schema version 99"),
        ("yaml-trap", "not a valid trigger name"),
        ("quoted-default", "'default' must be true or false"),
    ],
)
def test_bad_registry_or_checkpoint_is_one_line_error_and_nothing_written(
    example_venv, home, tmp_path, how: str, message: str
) -> None:
    _break(home, how)
    result = _run(example_venv, home, tmp_path, *RUN)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert not (tmp_path / "out.wav").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channels": 3}, "'channels' must be 1 or 2 (got 3)"),
        ({"channels": True, "pan_prior": "p"}, "'channels' must be 1 or 2"),
        ({"channels": 2}, "a stereo entry ('channels: 2') names the id of its 'pan_prior'"),
        ({"pan_prior": "pan-prior"}, "and only a stereo one does"),
        ({"channels": 2, "pan_prior": "Not An Id"}, "'pan_prior' must be a checkpoint id"),
    ],
)
def test_bad_stereo_fields_are_named(home, fields: dict, message: str) -> None:
    _write(home, [_entry(home / "checkpoints" / "bigram.safetensors", **fields)])
    with pytest.raises(RegistryError, match=re.escape(message)):
        read_registry_file(home / "registry.yaml")


def test_a_stereo_variant_is_found_only_for_two_channels(home) -> None:
    ckpt = home / "checkpoints" / "bigram.safetensors"
    _write(home, [_entry(ckpt), _entry(ckpt, id="bigram-stereo", channels=2, pan_prior="pan-prior", default=True)])
    registry = Registry([], home / "registry.yaml")
    assert registry.resolve("bigram", "none", "tapping_glass").id == "bigram-glass"  # a default stereo one aside
    assert registry.resolve("bigram", "none", "tapping_glass", channels=2).id == "bigram-stereo"
    assert registry.get("bigram-stereo").as_dict()["pan_prior"] == "pan-prior"
    with pytest.raises(UsageError, match=r"no stereo bigram / none checkpoint serves 'whispering'.*--spatialize"):
        registry.resolve("bigram", "none", "whispering", channels=2)


def test_unknown_keys_warn_but_work(tmp_path, home) -> None:
    ckpt = home / "checkpoints" / "bigram.safetensors"
    _write(home, [_entry(ckpt, colour="blue")])
    entries, warnings = read_registry_file(home / "registry.yaml")
    assert entries[0].id == "bigram-glass"
    assert warnings == [f"{home / 'registry.yaml'}: entry 1 ('bigram-glass'): unknown key 'colour' ignored"]


def test_lookup_prefers_user_then_default_and_lists_what_exists(tmp_path, home) -> None:
    ckpt = home / "checkpoints" / "bigram.safetensors"
    shipped = tmp_path / "shipped"
    (shipped / "checkpoints").mkdir(parents=True)
    (shipped / "checkpoints" / ckpt.name).write_bytes(ckpt.read_bytes())
    _write(shipped, [_entry(ckpt, id="shipped-a"), _entry(ckpt, id="shipped-b", default=True)])
    registry = Registry([shipped / "registry.yaml"])
    assert registry.resolve("bigram", "none", "tapping_glass").id == "shipped-b"
    merged = Registry([shipped / "registry.yaml"], home / "registry.yaml")
    assert merged.resolve("bigram", "none", "tapping_glass").id == "bigram-glass"
    with pytest.raises(UsageError, match="available triggers: tapping_glass"):
        merged.resolve("bigram", "none", "whispering")
    with pytest.raises(UsageError, match="registered: bigram --conditioner none"):
        merged.resolve("wavenet", "global", "whispering")
    plugin = tmp_path / "plugin"  # a plugin's file that repeats a shipped id is skipped, the shipped entry stays
    (plugin / "checkpoints").mkdir(parents=True)
    (plugin / "checkpoints" / ckpt.name).write_bytes(ckpt.read_bytes())
    _write(plugin, [_entry(ckpt, id="shipped-b", description="impostor"), _entry(ckpt, id="plugin-c")])
    both = Registry([shipped / "registry.yaml", plugin / "registry.yaml"])
    assert set(both.entries) == {"shipped-a", "shipped-b"} and both.get("shipped-b").source == shipped / "registry.yaml"
    assert both.warnings == [
        f"skipped registry file {plugin / 'registry.yaml'}: checkpoint id 'shipped-b' is already registered by "
        f"{shipped / 'registry.yaml'}"
    ]


def test_register_adds_to_the_user_registry(example_venv, home, tmp_path, example_zoo) -> None:
    ckpt = tmp_path / "mine.safetensors"
    save_checkpoint(ckpt, build_model("bigram", "none", zoo=example_zoo), extra={"metrics": '{"x": 1}'})
    bad = _run(example_venv, home, tmp_path, "register", str(ckpt))
    assert bad.returncode != 0 and "pass --trigger" in bad.stderr
    result = _run(example_venv, home, tmp_path, "register", str(ckpt), "--trigger", "whispering", "--id", "my-one")
    assert result.returncode == 0, result.stderr
    entries, _ = read_registry_file(home / "registry.yaml")
    mine = {e.id: e for e in entries}["my-one"]
    assert mine.triggers == ["whispering"] and mine.metrics == {"x": 1} and mine.path.is_file()
    run = _run(example_venv, home, tmp_path, "run", "bigram", "-t", "whispering", "-s", "0.05", "-o", "w.wav")
    assert run.returncode == 0, run.stderr


def test_a_user_registry_cut_at_any_line_is_refused_though_the_rest_is_valid_yaml(tmp_path) -> None:
    from asmr_zoo.errors import RegistryError
    from asmr_zoo.registry import WRITTEN_END, _write_user_doc, read_registry_file

    entry = {
        "id": "mine",
        "model": "wavenet",
        "conditioner": "none",
        "triggers": ["whispering"],
        "codec": "mulaw8",
        "sample_rate": 16000,
        "weights": {"path": "checkpoints/mine.safetensors", "sha256": "0" * 64, "size": 10},
        "config": {"layers": 4, "residual_channels": 8, "window": 400},
        "default": True,
    }
    path = tmp_path / "registry.yaml"
    _write_user_doc({"schema_version": 1, "entries": [entry]}, path)
    text = path.read_text()
    assert text.endswith(WRITTEN_END) and [e.id for e in read_registry_file(path)[0]] == ["mine"]
    lines = text.splitlines(keepends=True)
    valid_cuts = 0
    for keep in range(1, len(lines)):
        path.write_text("".join(lines[:keep]))
        try:
            yaml.safe_load(path.read_text())
            valid_cuts += 1
        except yaml.YAMLError:
            pass
        with pytest.raises(RegistryError, match="is cut short"):
            read_registry_file(path)
    assert valid_cuts > 5  # most cuts are still valid YAML: only the end line tells them apart
    path.write_text(text.split("\n", 1)[1].removesuffix(WRITTEN_END))  # hand-written: no first line
    assert [e.id for e in read_registry_file(path)[0]] == ["mine"]
