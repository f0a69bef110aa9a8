"""OS errors (a full disk, a file-size limit, a directory where a file should be) end in one line and a
non-zero exit, and leave no half-written or temporary file: real subprocesses under a real RLIMIT_FSIZE."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT = 30_000  # bytes: more than the interpreter needs, less than the files written below


def limited(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``asmr-zoo ARGS`` with files capped at LIMIT bytes (SIGXFSZ ignored, so a write fails with EFBIG)."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "ASMR_ZOO_HOME": str(cwd / "home")}
    return subprocess.run(
        [sys.executable, "-m", "asmr_zoo", *args], cwd=cwd, env=env, capture_output=True, text=True, preexec_fn=cap
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and all(w in lines[0] for w in words), result.stderr


def stray(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.name)


def test_run_past_the_file_size_limit_is_one_line_and_writes_nothing(tmp_path) -> None:
    result = limited(tmp_path, "run", "wavenet", "-t", "whispering", "-s", "2", "-o", "big.wav")
    assert_one_line_error(result, "big.wav", "size limit")
    assert not (tmp_path / "big.wav").exists() and stray(tmp_path) == []


def test_data_synth_past_the_file_size_limit_is_one_line(tmp_path) -> None:
    result = limited(tmp_path, "data", "synth", "--out", "d", "--triggers", "whispering", "--minutes", "0.1")
    assert_one_line_error(result, "size limit")
    assert stray(tmp_path) == []


def test_train_checkpoint_past_the_file_size_limit_is_one_line(tmp_path, cli) -> None:
    made = cli("data", "synth", "--out", str(tmp_path / "d"), "--triggers", "whispering", "--minutes", "0.1")
    assert made.returncode == 0, made.stderr
    args = ["train", "wavenet", "--data", "d", "--preset", "demo", "--out", "m.safetensors"]
    result = limited(tmp_path, *args, "train.steps=2", "train.batch_size=1", "model.window=400")
    assert_one_line_error(result, "m.safetensors", "size limit")
    assert not (tmp_path / "m.safetensors").exists() and stray(tmp_path) == []


@pytest.mark.parametrize("out", ["adir.wav", "afile/x.wav"])
def test_output_where_no_file_can_be_written_is_one_line(cli, tmp_path, out) -> None:
    (tmp_path / "adir.wav").mkdir()
    (tmp_path / "afile").write_text("a file, not a folder")
    result = cli("run", "wavenet", "-t", "whispering", "-s", "0.05", "-o", out)
    assert_one_line_error(result, out.split("/")[0])
    assert stray(tmp_path) == []


def test_a_name_with_line_breaks_stays_on_the_one_error_line(cli, tmp_path) -> None:
    """A user-given id with a form feed, a newline and U+2028 in it is echoed escaped, on one line."""
    result = cli("unregister", "--", "bad\fname\nwith\u2028breaks")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad\\x0cname\\nwith\\u2028breaks" in lines[0]
