"""Every file asmr-zoo reads, corrupted every way a file gets corrupted, read by the real CLI in a subprocess.

Each test id is one (file, corruption): the command that reads the file must end in exactly one ``error: ...``
line and a non-zero exit, print no traceback, and leave every other file as it was (a corrupt user registry is
not rewritten, a registered checkpoint survives, a failed build leaves no output folder behind).

The files: the user registry (``$ASMR_ZOO_HOME/registry.yaml``), a safetensors checkpoint and its
``asmr_zoo.*`` metadata, a registered checkpoint's weights, a training resume file (``X.safetensors.resume``),
a data set's ``manifest.jsonl``, a CSV manifest (``data manifest``), a yt-dlp info JSON (``data youtube``) and
audio files (``data folder``, and a data set's clips read by ``eval``). The corruptions: an empty file, the
first half of it, random bytes, valid syntax with wrong types or missing fields, bytes that are not UTF-8, a
NUL byte, a directory where the file should be, and huge nesting or sizes where a parser could choke on them.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import cli_runner

MEMORY_LIMIT = 6 << 30  # address space per command: a parser that balloons fails here instead of the machine
SEED = 1234
TRAIN = ["--preset", "tiny", "train.steps=1", "train.batch_size=1", "model.window=400"]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``asmr-zoo ARGS`` in a subprocess, in ``cwd``, with ``cwd/home`` as ASMR_ZOO_HOME and one thread."""
    env = {"ASMR_ZOO_HOME": str(cwd / "home"), "OMP_NUM_THREADS": "1"}
    return cli_runner(cwd, env, MEMORY_LIMIT)(*args, timeout=240)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root``: a directory, or the sha256 of a file's bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_one_error_and_nothing_touched(result: subprocess.CompletedProcess, root: Path, before: dict) -> None:
    shown = f"$ asmr-zoo {' '.join(result.args[3:])}\nexit {result.returncode}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, shown
    assert result.returncode != 0, shown
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], shown
    after = snapshot(root)
    changed = sorted(p for p in before if after.get(p) != before[p])
    added = sorted(p for p in after if p not in before)
    assert not changed and not added, f"{shown}\nchanged or deleted: {changed}\nadded: {added}"


# -- the files, made once per module ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny data set ``D``, a checkpoint ``m.safetensors`` trained on it (with its resume file), a user
    registry in ``home`` with that checkpoint registered as ``mine``, a folder source ``F``, a CSV manifest with
    its audio in ``A``, and a yt-dlp info JSON."""
    root = tmp_path_factory.mktemp("base")
    made = cli(root, "data", "synth", "--out", "D", "--triggers", "whispering,tapping_glass", "--minutes", "0.1")
    assert made.returncode == 0, made.stderr
    trained = cli(root, "train", "wavenet", "--data", "D", "--out", "m.safetensors", *TRAIN)
    assert trained.returncode == 0, trained.stderr
    registered = cli(root, "register", "m.safetensors", "--id", "mine")
    assert registered.returncode == 0, registered.stderr
    clip = next((root / "D" / "whispering").glob("*.wav"))
    (root / "F" / "whispering").mkdir(parents=True)
    shutil.copy(clip, root / "F" / "whispering" / "take.wav")
    (root / "A").mkdir()
    shutil.copy(clip, root / "A" / "abcdefghijk.wav")
    (root / "rows.csv").write_text("video_id,start,end,label\nabcdefghijk,0.0,1.5,whispering\n")
    info = {
        "id": "abcdefghijk",
        "title": "ASMR",
        "duration": 60,
        "description": "0:00 tapping on glass\n0:30 whispering",
        "chapters": [{"start_time": 0, "end_time": 30, "title": "tapping on glass"}],
    }
    (root / "video.info.json").write_text(json.dumps(info))
    return root


@pytest.fixture
def work(base: Path, tmp_path: Path) -> Path:
    """A private copy of ``base``."""
    target = tmp_path / "w"
    shutil.copytree(base, target, symlinks=True)
    return target


# -- corruptions ------------------------------------------------------------------------------------------


def _rng() -> random.Random:
    return random.Random(SEED)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def random_bytes(path: Path) -> None:
    size = max(64, path.stat().st_size)
    path.write_bytes(bytes(_rng().getrandbits(8) for _ in range(size)))


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("a directory where the file should be")


def _splice(path: Path, replacement: bytes) -> None:
    """Put ``replacement`` in the middle of the file, inside its text (after a letter), keeping its length."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    at = next(i for i in range(middle, len(data)) if chr(data[i]).isalpha())
    data[at : at + len(replacement)] = replacement
    path.write_bytes(bytes(data))


def not_utf8(path: Path) -> None:
    _splice(path, b"\xff\xfe")


def nul_byte(path: Path) -> None:
    _splice(path, b"\x00")


def text(content: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(content, encoding="utf-8")

    write.__name__ = "text"
    return write


DEEP = 5_000  # deeper than any recursive parser's stack (Python's recursion limit is 1,000)
GENERIC = {
    "empty": empty,
    "half": half,
    "random": random_bytes,
    "not_utf8": not_utf8,
    "nul": nul_byte,
    "directory": directory,
}


# -- safetensors: headers and asmr_zoo metadata ------------------------------------------------------------


def _read_safetensors(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _write_safetensors(path: Path, header: dict, body: bytes) -> None:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def metadata(**changes: str | None) -> Callable[[Path], None]:
    """Rewrite ``asmr_zoo.*`` metadata entries (None deletes one); the tensors stay as they are."""

    def rewrite(path: Path) -> None:
        header, body = _read_safetensors(path)
        meta = header.setdefault("__metadata__", {})
        for key, value in changes.items():
            key = "asmr_zoo." + key.replace("__", ".")
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        _write_safetensors(path, header, body)

    return rewrite


def config(**changes: object) -> Callable[[Path], None]:
    """Change fields of the ``asmr_zoo.config`` JSON."""

    def rewrite(path: Path) -> None:
        header, _ = _read_safetensors(path)
        cfg = json.loads(header["__metadata__"]["asmr_zoo.config"])
        cfg.update(changes)
        metadata(config=json.dumps(cfg))(path)

    return rewrite


def huge_header(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 1 << 62) + data[8:])


def tensor_shape(path: Path) -> None:
    """A tensor whose shape the config does not make (its bytes re-sliced to fit the header)."""
    header, body = _read_safetensors(path)
    name = next(k for k, v in header.items() if k != "__metadata__" and len(v["shape"]) >= 2)
    info = header[name]
    count = int(np.prod(info["shape"]))
    info["shape"] = [count]
    _write_safetensors(path, header, body)


def int_tensors(path: Path) -> None:
    """Floating-point weights stored as int32 (the same byte length)."""
    header, body = _read_safetensors(path)
    for key, info in header.items():
        if key != "__metadata__" and info["dtype"] == "F32":
            info["dtype"] = "I32"
    _write_safetensors(path, header, body)


def nan_tensors(path: Path) -> None:
    header, body = _read_safetensors(path)
    data = bytearray(body)
    name = next(k for k in header if k != "__metadata__" and header[k]["dtype"] == "F32")
    start = header[name]["data_offsets"][0]
    data[start : start + 4] = struct.pack("<f", float("nan"))
    _write_safetensors(path, header, bytes(data))


def no_metadata(path: Path) -> None:
    header, body = _read_safetensors(path)
    header.pop("__metadata__", None)
    _write_safetensors(path, header, body)


def header_bytes(replacement: bytes) -> Callable[[Path], None]:
    """Overwrite bytes inside the header's JSON text (within a metadata string), keeping every length."""

    def rewrite(path: Path) -> None:
        data = bytearray(path.read_bytes())
        at = data.index(b"tapping_glass")
        data[at : at + len(replacement)] = replacement
        path.write_bytes(bytes(data))

    return rewrite


CHECKPOINT = {
    "empty": empty,
    "half": half,
    "random": random_bytes,
    "directory": directory,
    "not_utf8": header_bytes(b"\xff\xfe"),
    "nul": header_bytes(b"\x00"),
    "huge_header": huge_header,
    "no_metadata": no_metadata,
    "missing_model": metadata(model=None),
    "format_version": metadata(format_version="99"),
    "vocabulary_not_json": metadata(vocabulary="[tapping_glass"),
    "vocabulary_not_a_list": metadata(vocabulary='{"tapping_glass": 1}'),
    "vocabulary_numbers": metadata(vocabulary="[1, 2]"),
    "config_not_a_mapping": metadata(config="[1, 2, 3]"),
    "config_nested": metadata(config="[" * DEEP + "]" * DEEP),
    "config_wrong_type": config(residual_channels="abc"),
    "config_zero_size": config(residual_channels=0),
    "config_unknown_key": config(bogus=1),
    "config_huge": config(residual_channels=10**7),
    "sample_rate_text": metadata(sample_rate="fast"),
    "triggers_not_a_list": metadata(extra__triggers="5"),
    "metrics_not_a_mapping": metadata(extra__metrics="[1]"),
    "tensor_shape": tensor_shape,
    "int_tensors": int_tensors,
    "nan_weights": nan_tensors,
}


@pytest.mark.parametrize("corrupt", list(CHECKPOINT.values()), ids=list(CHECKPOINT))
def test_checkpoint(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``register --force`` over a registered id refuses it (it loads the file as ``run`` does: metadata, config,
    tensors) and keeps the old entry and its weights."""
    corrupt(work / "m.safetensors")
    before = snapshot(work)
    registered = cli(work, "register", "m.safetensors", "--id", "mine", "--force")
    assert_one_error_and_nothing_touched(registered, work, before)


RUN_CHECKPOINT = ["half", "vocabulary_not_a_list", "config_zero_size", "tensor_shape", "nan_weights"]


@pytest.mark.parametrize("name", RUN_CHECKPOINT)
def test_checkpoint_run(work: Path, name: str) -> None:
    """``run --checkpoint`` refuses it and writes no audio."""
    CHECKPOINT[name](work / "m.safetensors")
    before = snapshot(work)
    ran = cli(work, "run", "--checkpoint", "m.safetensors", "-t", "whispering", "-s", "0.05", "-o", "out.wav")
    assert_one_error_and_nothing_touched(ran, work, before)


REGISTERED = {"half": half, "random": random_bytes, "directory": directory}


@pytest.mark.parametrize("corrupt", list(REGISTERED.values()), ids=list(REGISTERED))
def test_registered_weights(work: Path, corrupt: Callable[[Path], None]) -> None:
    """A registered checkpoint's weights, damaged in ``$ASMR_ZOO_HOME``: ``run --id`` refuses them (sha256 or
    size), and neither the file nor its entry is removed."""
    (weights,) = (work / "home" / "checkpoints").glob("mine-*.safetensors")
    corrupt(weights)
    before = snapshot(work)
    result = cli(work, "run", "--id", "mine", "-t", "whispering", "-s", "0.05", "-o", "out.wav")
    assert_one_error_and_nothing_touched(result, work, before)


# -- the user registry ---------------------------------------------------------------------------------


def registry_entry(**changes: object) -> Callable[[Path], None]:
    """The registered entry with some fields changed (None deletes one), as valid YAML."""

    def rewrite(path: Path) -> None:
        import yaml

        doc = yaml.safe_load(path.read_text())
        entry = doc["entries"][0]
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        path.write_text(yaml.safe_dump(doc))

    return rewrite


REGISTRY = {
    **GENERIC,  # asmr-zoo writes it atomically: even an empty one is damage (the weights it named would be lost)
    "not_a_mapping": text("- just\n- a list\n"),
    "entries_not_a_list": text("schema_version: 1\nentries: {id: mine}\n"),
    "schema_text": text("schema_version: one\nentries: []\n"),
    "schema_future": text("schema_version: 99\nentries: []\n"),
    "entry_not_a_mapping": text("schema_version: 1\nentries: [5]\n"),
    "missing_weights": registry_entry(weights=None),
    "wrong_types": registry_entry(sample_rate="16000", triggers=5, default="yes"),
    "weights_wrong_types": registry_entry(weights={"path": 5, "sha256": "abc", "size": "big"}),
    "weights_escape": registry_entry(weights={"path": "../../etc/passwd", "sha256": "0" * 64, "size": 1}),
    "nested": text("[" * DEEP + "]" * DEEP),
    "alias_bomb": text(
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
        + "schema_version: 1\nentries: *i\n"
    ),
}


@pytest.mark.parametrize("corrupt", list(REGISTRY.values()), ids=list(REGISTRY))
def test_user_registry(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``list``, ``register`` and ``unregister`` refuse it; none rewrites it or drops the registered weights."""
    corrupt(work / "home" / "registry.yaml")
    before = snapshot(work)
    listed = cli(work, "list", "--kind", "checkpoints")
    assert_one_error_and_nothing_touched(listed, work, before)
    registered = cli(work, "register", "m.safetensors", "--id", "other")
    assert_one_error_and_nothing_touched(registered, work, before)
    unregistered = cli(work, "unregister", "mine")
    assert_one_error_and_nothing_touched(unregistered, work, before)


# -- training resume files --------------------------------------------------------------------------------


def resume_meta(**changes: str | None) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        header, body = _read_safetensors(path)
        meta = header.setdefault("__metadata__", {})
        for key, value in changes.items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        _write_safetensors(path, header, body)

    return rewrite


def drop_tensor(prefix: str) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        header, body = _read_safetensors(path)
        name = next(k for k in header if k.startswith(prefix))
        del header[name]
        _write_safetensors(path, header, body)

    return rewrite


RESUME = {
    **{k: v for k, v in GENERIC.items() if k in ("empty", "random", "directory")},
    "not_utf8": header_bytes(b"\xff\xfe"),
    "huge_header": huge_header,
    "no_metadata": no_metadata,
    "step_text": resume_meta(step="ten"),
    "step_negative": resume_meta(step="-5"),
    "info_nested": resume_meta(info="[" * DEEP + "]" * DEEP),
    "info_not_a_mapping": resume_meta(info="[1]"),
    "param_groups_wrong": resume_meta(param_groups='[{"lr": "fast"}]'),
    "missing_optimizer_state": drop_tensor("opt."),
    "tensor_shape": tensor_shape,
}


@pytest.mark.parametrize("corrupt", list(RESUME.values()), ids=list(RESUME))
def test_resume_file(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``train --resume`` refuses it before training a step: the checkpoint and the resume file stay."""
    corrupt(work / "m.safetensors.resume")
    before = snapshot(work)
    more = [a.replace("train.steps=1", "train.steps=2") for a in TRAIN]
    result = cli(work, "train", "wavenet", "--data", "D", "--out", "m.safetensors", "--resume", *more)
    assert_one_error_and_nothing_touched(result, work, before)


# -- data-set manifests -----------------------------------------------------------------------------------


def manifest_row(**changes: object) -> Callable[[Path], None]:
    """The first row with fields changed (None deletes one), as valid JSON."""

    def rewrite(path: Path) -> None:
        lines = path.read_text().splitlines()
        row = json.loads(lines[0])
        for key, value in changes.items():
            if value is None:
                row.pop(key, None)
            else:
                row[key] = value
        lines[0] = json.dumps(row)
        path.write_text("\n".join(lines) + "\n")

    return rewrite


MANIFEST = {
    **{k: v for k, v in GENERIC.items() if k != "empty"},  # an empty manifest is a data set of no rows (below)
    "not_an_object": text("[1, 2, 3]\n"),
    "missing_fields": manifest_row(start=None, trigger=None),
    "start_text": manifest_row(start="zero"),
    "end_list": manifest_row(end=[1, 2]),
    "path_number": manifest_row(path=5),
    "trigger_number": manifest_row(trigger=7),
    "trigger_unknown_name": manifest_row(trigger="tapping_lava"),
    "sample_rate_text": manifest_row(sample_rate="16k"),
    "sample_rate_zero": manifest_row(sample_rate=0),
    "split_other": manifest_row(split="validation"),
    "start_nan": text(
        '{"video_id": "v", "trigger": "whispering", "raw_label": "", "start": NaN, "end": 1.0, "origin": "x"}\n'
    ),
    "end_before_start": manifest_row(start=5.0, end=1.0),
    "nested": text("[" * DEEP + "]" * DEEP + "\n"),
    "huge_line": text(json.dumps({"video_id": "v" * 5_000_000}) + "\n"),
}


@pytest.mark.parametrize("corrupt", list(MANIFEST.values()), ids=list(MANIFEST))
def test_dataset_manifest(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``data stats`` and ``data merge`` refuse it, and ``merge`` leaves no output folder."""
    corrupt(work / "D" / "manifest.jsonl")
    before = snapshot(work)
    stats = cli(work, "data", "stats", "D")
    assert_one_error_and_nothing_touched(stats, work, before)
    merged = cli(work, "data", "merge", "D", "--out", "M")
    assert_one_error_and_nothing_touched(merged, work, before)


@pytest.mark.parametrize(
    "corrupt",
    [empty, manifest_row(sample_rate="16000"), manifest_row(path="masters"), manifest_row(path="../../x.wav")],
    ids=["empty", "sample_rate_text", "path_a_directory", "path_escapes"],
)
def test_dataset_manifest_read_for_training(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``train`` reads the manifest through ``read_dataset``: the same refusals, and those of the files it names
    (an empty manifest has no rows; a path must name a file inside the data set)."""
    corrupt(work / "D" / "manifest.jsonl")
    before = snapshot(work)
    result = cli(work, "train", "wavenet", "--data", "D", "--out", "new.safetensors", *TRAIN)
    assert_one_error_and_nothing_touched(result, work, before)


# -- CSV manifests (data manifest) ------------------------------------------------------------------------


CSV = {
    **GENERIC,
    "header_only": text("video_id,start,end,label\n"),
    "times_text": text("abcdefghijk,zero,one,whispering\n"),
    "times_reversed": text("abcdefghijk,5.0,1.0,whispering\n"),
    "times_nan": text("abcdefghijk,nan,inf,whispering\n"),
    "too_few_fields": text("abcdefghijk,1.0\n"),
    "id_escapes": text("../../etc/passwd,0.0,1.0,whispering\n"),
    "huge_field": text('abcdefghijk,0.0,1.0,"' + "x" * 300_000 + '"\n'),
}


@pytest.mark.parametrize("corrupt", list(CSV.values()), ids=list(CSV))
def test_csv_manifest(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``data manifest`` refuses it and leaves no output folder behind."""
    corrupt(work / "rows.csv")
    before = snapshot(work)
    result = cli(work, "data", "manifest", "rows.csv", "--out", "O", "--audio-dir", "A", "--trigger", "whispering")
    assert_one_error_and_nothing_touched(result, work, before)


# -- yt-dlp info JSON (data youtube) ----------------------------------------------------------------------


def info_json(**changes: object) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        info = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                info.pop(key, None)
            else:
                info[key] = value
        path.write_text(json.dumps(info))

    return rewrite


INFO = {
    **GENERIC,
    "not_an_object": text("[1, 2]"),
    "missing_id": info_json(id=None),
    "id_number": info_json(id=12345678901),
    "chapters_number": info_json(chapters=5, description=None),
    "chapters_text": info_json(chapters="0:00 tapping", description=None),
    "chapter_times_nan": text(
        '{"id": "abcdefghijk", "chapters": [{"start_time": NaN, "end_time": Infinity, "title": "whispering"}]}'
    ),
    "chapter_times_huge": info_json(chapters=[{"start_time": 1e300, "title": "whispering"}], description=None),
    "description_number": info_json(description=5, chapters=None),
    "duration_text": info_json(duration="long"),
    "formats_text": info_json(formats="bestaudio"),
    "nested": text('{"id": "abcdefghijk", "x": ' + "[" * DEEP + "]" * DEEP + "}"),
}


@pytest.mark.parametrize("corrupt", list(INFO.values()), ids=list(INFO))
def test_info_json(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``data youtube`` refuses it (nothing is downloaded: no URL in it) and leaves no output folder behind."""
    corrupt(work / "video.info.json")
    before = snapshot(work)
    result = cli(work, "data", "youtube", "video.info.json", "--out", "O")
    assert_one_error_and_nothing_touched(result, work, before)


# -- audio files -------------------------------------------------------------------------------------------


def wav(samples: np.ndarray, rate: int = 16000, subtype: str = "FLOAT") -> Callable[[Path], None]:
    def write(path: Path) -> None:
        sf.write(str(path), samples, rate, subtype=subtype, format="WAV")

    return write


def wav_header(rate: int) -> Callable[[Path], None]:
    """The same file with another sample rate written into its header."""

    def rewrite(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[24:28] = struct.pack("<I", rate)
        path.write_bytes(bytes(data))

    return rewrite


def header_nul(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] = 0  # "RIFF" -> "\0IFF"
    path.write_bytes(bytes(data))


AUDIO = {
    # binary: no text to be not UTF-8, and a NUL byte among the samples is a sample; in the header it is damage
    **{k: v for k, v in GENERIC.items() if k not in ("not_utf8", "nul")},
    "nul": header_nul,
    "no_samples": wav(np.zeros((0, 1), dtype=np.float32)),
    "nan_samples": wav(np.full((16000, 1), np.nan, dtype=np.float32)),
    "one_sample": wav(np.full((1, 1), 0.5, dtype=np.float32)),
    "silence": wav(np.zeros((32000, 1), dtype=np.float32)),
    "rate_zero": wav_header(0),
    "rate_huge": wav_header(4_000_000_000),
    "many_channels": wav(np.full((16000, 64), 0.1, dtype=np.float32)),
}


@pytest.mark.parametrize("corrupt", list(AUDIO.values()), ids=list(AUDIO))
def test_folder_audio(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``data folder`` refuses the only recording and leaves no output folder behind."""
    corrupt(work / "F" / "whispering" / "take.wav")
    before = snapshot(work)
    result = cli(work, "data", "folder", "F", "--out", "O")
    assert_one_error_and_nothing_touched(result, work, before)


DATASET_AUDIO = {
    "random": random_bytes,
    "nan_samples": wav(np.full((16000, 1), np.nan, dtype=np.float32)),
    "other_rate": wav(np.full((16000, 1), 0.1, dtype=np.float32), rate=8000),
}


@pytest.mark.parametrize("corrupt", list(DATASET_AUDIO.values()), ids=list(DATASET_AUDIO))
def test_dataset_audio_read_by_eval(work: Path, corrupt: Callable[[Path], None]) -> None:
    """``eval`` reads a data set's held-out clips: a damaged one is refused by name."""
    rows = [json.loads(line) for line in (work / "D" / "manifest.jsonl").read_text().splitlines()]
    held_out = next(r for r in rows if r["split"] == "test" and r["path"])
    corrupt(work / "D" / held_out["path"])
    before = snapshot(work)
    result = cli(work, "eval", "m.safetensors", "--data", "D", "--clips", "0")
    assert_one_error_and_nothing_touched(result, work, before)
