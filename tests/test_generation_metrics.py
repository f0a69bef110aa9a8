"""Generation-level metrics (`asmr_zoo.generation_metrics`): a classifier that recognises real held-out clips
and not noise, onset rates that count taps, collapse detection, and the `eval` command's generation section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asmr_zoo import generation_metrics as gm
from asmr_zoo.audio import read_audio
from asmr_zoo.dataset import read_dataset

RATE = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A small procedural corpus (seed 5: not the shipped models' training seed)."""
    out = tmp_path_factory.mktemp("corpus") / "data"
    args = ["synth", "--out", str(out), "--minutes", "1", "--clip-seconds", "5", "--seed", "5", "--channels", "1"]
    subprocess.run([sys.executable, "-m", "asmr_zoo", "data", *args], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def clips(corpus) -> dict[str, list[tuple[str, np.ndarray]]]:
    out: dict[str, list] = {"train": [], "test": []}
    for row in read_dataset(corpus):
        audio, rate = read_audio(row.path)
        assert rate == RATE
        out[row.split].append((row.trigger, audio.mean(axis=0)))
    return out


def test_real_held_out_clips_are_recognised_and_noise_is_not(clips) -> None:
    report = gm.generation_report(clips["train"], clips["test"], clips["test"], RATE)  # a "generator" of real clips
    assert report["accuracy"] >= 0.9 and report["real_accuracy"] >= 0.9
    rng = np.random.default_rng(0)
    noise = [(t, 0.1 * rng.standard_normal(len(w))) for t, w in clips["test"]]  # the same noise for every trigger
    bad = gm.generation_report(clips["train"], clips["test"], noise, RATE)
    assert bad["accuracy"] <= 0.25  # chance is 1/11; white noise looks like at most one or two triggers
    assert len({p for row in bad["confusion"].values() for p in row}) <= 2
    tapping = bad["triggers"]["tapping_plastic"]
    assert tapping["generated"]["onset_rate"] < 0.5 < tapping["real"]["onset_rate"]
    assert tapping["generated"]["flatness"] > 10 * tapping["real"]["flatness"]


def test_onset_rate_counts_taps() -> None:
    rng = np.random.default_rng(1)
    wav = 1e-4 * rng.standard_normal(10 * RATE)
    t = np.arange(int(0.05 * RATE)) / RATE
    tap = np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.01)
    for onset in np.arange(0.2, 9.8, 0.25):  # 4 taps per second
        start = int(onset * RATE)
        wav[start : start + len(tap)] += 0.5 * tap
    assert abs(gm.onset_rate(gm.Analysis.of(wav, RATE)) - 3.85) < 0.3  # 39 taps in 10 s
    assert gm.onset_rate(gm.Analysis.of(0.1 * rng.standard_normal(10 * RATE), RATE)) < 0.3


def test_collapse_needs_a_long_clip_and_a_real_drop() -> None:
    rng = np.random.default_rng(2)
    burst_then_silence = np.concatenate([0.3 * rng.standard_normal(RATE // 2), 1e-4 * rng.standard_normal(10 * RATE)])
    steady = 0.1 * rng.standard_normal(11 * RATE)
    silent = np.zeros(11 * RATE)
    stats = gm.audio_statistics([burst_then_silence, steady, silent], RATE)
    assert stats["collapsed"] == pytest.approx(2 / 3)
    assert gm.audio_statistics([burst_then_silence[: 5 * RATE]], RATE)["collapsed"] is None  # too short
    assert gm.is_collapsed(gm.Analysis.of(burst_then_silence, RATE))
    assert not gm.is_collapsed(gm.Analysis.of(steady, RATE))


def test_one_trigger_data_has_no_classifier_but_still_measures_audio(clips) -> None:
    glass = [c for c in clips["train"] if c[0] == "tapping_glass"]
    report = gm.generation_report(glass, [], glass[:2], RATE)
    assert report["accuracy"] is None and report["triggers"]["tapping_glass"]["recall"] is None
    assert report["triggers"]["tapping_glass"]["generated"]["onset_rate"] > 0


def test_eval_reports_generation_of_a_shipped_checkpoint(corpus, tmp_path) -> None:
    checkpoint = Path(__file__).resolve().parents[1] / "checkpoints" / "wavenet-global.safetensors"
    args = ["eval", str(checkpoint), "--data", str(corpus), "--json", "--clips", "2", "--seconds", "2", "--seed", "1"]
    result = subprocess.run([sys.executable, "-m", "asmr_zoo", *args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    gen = json.loads(result.stdout)["generation"]
    assert gen["clips_per_trigger"] == 2 and gen["seconds"] == 2.0
    assert gen["real_accuracy"] >= 0.9
    assert sum(sum(row.values()) for row in gen["confusion"].values()) == 2 * 11
    assert gen["collapsed"] is None  # 2 s clips: collapse is measured on clips of 10 s or more
    for row in gen["triggers"].values():
        assert 0 <= row["recall"] <= 1 and row["generated"]["clips"] == 2
    again = subprocess.run([sys.executable, "-m", "asmr_zoo", *args], capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(again.stdout)["generation"] == gen  # seeded: the same clips, the same scores


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--clips", "-1"], "--clips must be >= 0"), (["--seconds", "nan"], "--seconds must be a positive number")],
)
def test_eval_bad_generation_options(corpus, tmp_path, args, message) -> None:
    checkpoint = Path(__file__).resolve().parents[1] / "checkpoints" / "wavenet-global.safetensors"
    cmd = [sys.executable, "-m", "asmr_zoo", "eval", str(checkpoint), "--data", str(corpus), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"error: {result.stderr.strip()[7:]}"] and message in result.stderr
