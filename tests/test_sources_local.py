"""The folder, manifest and synthetic sources, segment processing, sharding, resuming, and the data CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from asmr_zoo.dataset import PARTS_DIR, read_dataset, read_manifest
from asmr_zoo.errors import UsageError
from asmr_zoo.triggers import COMMON_TRIGGERS, validate_trigger_name
from asmr_zoo_sources import synthetic
from asmr_zoo_sources.build import build_dataset, in_shard, parse_shard
from asmr_zoo_sources.processing import PEAK_CEILING_DB, normalise, process_segment, silence_bounds
from asmr_zoo_sources.synthetic import RECIPES, SyntheticSource

SONIC_PI = Path("/usr/share/sonic-pi/samples")


# -- processing --------------------------------------------------------------------------------------


def test_silence_is_trimmed_from_both_ends() -> None:
    rate = 16000
    audio = np.zeros((2, 3 * rate), dtype=np.float32)
    audio[:, rate : 2 * rate] = 0.3 * np.sin(np.arange(rate) * 0.2)
    first, last = silence_bounds(audio, rate)
    assert abs(first - rate) <= 0.06 * rate and abs(last - 2 * rate) <= 0.06 * rate
    assert silence_bounds(np.zeros((1, rate), dtype=np.float32), rate) == (0, 0)


def test_normalise_uses_the_range_without_clipping() -> None:
    rng = np.random.default_rng(1)
    quiet = (0.001 * rng.standard_normal((1, 16000))).astype(np.float32)
    out = normalise(quiet)
    assert abs(20 * np.log10(np.sqrt(np.mean(out**2))) + 20) < 0.1
    spiky = np.zeros((1, 16000), dtype=np.float32)
    spiky[0, 100] = 0.01
    assert abs(np.abs(normalise(spiky)).max() - 10 ** (PEAK_CEILING_DB / 20)) < 1e-6


def test_process_segment_enforces_the_minimum_length_and_drops_silence() -> None:
    rate = 22050
    audio = np.zeros((2, 2 * rate), dtype=np.float32)
    audio[:, : rate // 2] = 0.2
    short = process_segment(audio, rate, 10.0, 16000, min_seconds=1.0)
    assert short.audio is None and "shorter than 1 s" in short.note
    silent = process_segment(np.zeros((1, rate), dtype=np.float32), rate, 0.0, 16000, 1.0)
    assert silent.audio is None and silent.note == "silent"
    ok = process_segment(audio, rate, 10.0, 16000, min_seconds=0.2)
    assert ok.audio is not None and ok.audio.training.shape[0] == 1 and ok.audio.master.shape[0] == 2
    assert ok.start == 10.0 and abs(ok.end - 10.55) < 0.01


# -- synthetic ---------------------------------------------------------------------------------------


def test_synthetic_covers_the_common_triggers() -> None:
    assert set(RECIPES) == set(COMMON_TRIGGERS)
    for name in RECIPES:
        validate_trigger_name(name)


def test_synthetic_is_deterministic_per_seed_and_stereo_moves() -> None:
    source = SyntheticSource(minutes=0.1, seed=3)
    a = source.render("tapping_glass", 0, "v")
    b = SyntheticSource(minutes=0.1, seed=3).render("tapping_glass", 0, "v")
    c = SyntheticSource(minutes=0.1, seed=4).render("tapping_glass", 0, "v")
    assert np.array_equal(a.audio, b.audio) and not np.array_equal(a.audio, c.audio)
    assert a.audio.shape == (2, int(source.clip_seconds * source.rate))
    left, right = a.audio
    assert not np.allclose(left, right), "stereo output moves between the ears"
    mono = SyntheticSource(minutes=0.1, channels=1).render("whispering", 0, "v")
    assert mono.audio.shape[0] == 1


def test_synthetic_video_ids_are_distinct_and_at_least_three_per_trigger() -> None:
    units = list(SyntheticSource(minutes=0.05).units(["tapping_wood", "whispering"]))
    assert [u.video_id for u in units] == [f"synth-{t}-{k}" for t in ("tapping_wood", "whispering") for k in range(3)]
    with pytest.raises(UsageError, match="no synthetic recipe for 'tapping_cardboard'"):
        list(SyntheticSource().units(["tapping_cardboard"]))


def _band_profile(audio: np.ndarray, rate: int) -> np.ndarray:
    mono = audio.mean(axis=0)
    frames = mono[: len(mono) // 1024 * 1024].reshape(-1, 1024) * np.hanning(1024)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    bands = np.array([band.mean() for band in np.array_split(power[1:], 48)])
    spectrum = np.maximum(np.log10(bands / bands.max()), -5)  # 50 dB of range: the noise floor is no feature
    envelope = np.sqrt((frames**2).mean(axis=1))
    texture = np.std(np.log10(envelope + 1e-6))  # impulsive vs steady
    return np.append(spectrum, 4 * texture)


def test_synthetic_triggers_are_told_apart_on_held_out_videos(monkeypatch: pytest.MonkeyPatch) -> None:
    """A nearest-mean classifier on band spectra, trained on videos 0-1, labels video 2 of every trigger."""
    source = SyntheticSource(minutes=0.15, seed=0)
    means = {
        t: np.mean([_band_profile(source.render(t, k, "v").audio, source.rate) for k in (0, 1)], axis=0)
        for t in RECIPES
    }
    for trigger in RECIPES:
        held_out = _band_profile(source.render(trigger, 2, "v").audio, source.rate)
        guess = min(means, key=lambda t: np.sum((means[t] - held_out) ** 2))
        assert guess == trigger


def test_whispering_without_espeak_falls_back_to_shaped_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic.shutil, "which", lambda name: None)
    segment = SyntheticSource(minutes=0.05).render("whispering", 0, "v")
    assert np.isfinite(segment.audio).all() and np.abs(segment.audio).max() > 0.1


# -- folder (real recorded audio) --------------------------------------------------------------------


@pytest.mark.skipif(not SONIC_PI.is_dir(), reason="Debian's sonic-pi-samples (CC0) are not installed")
def test_folder_source_on_real_recordings(tmp_path: Path, cli: Any) -> None:
    src = tmp_path / "recordings"
    layout = {
        "glass rub brushing": ["ambi_glass_rub.flac"],
        "tapping_metal": ["drum_cymbal_hard.flac", "elec_chime.flac"],
        "Tapping on wood": ["tabla_ghe5.flac", "perc_door.flac"],
        "ambient pads": ["ambi_choir.flac"],
    }
    for folder, files in layout.items():
        (src / folder).mkdir(parents=True)
        for name in files:
            shutil.copy(SONIC_PI / name, src / folder / name)
    (src / "tapping_metal" / "broken.wav").write_bytes(b"RIFF garbage, not a wave file")
    (src / "tapping_metal" / "notes.txt").write_text("not audio")

    result = cli("data", "folder", str(src), "--out", str(tmp_path / "data"), "--min-seconds", "0.5")
    assert result.returncode == 0, result.stderr
    assert "tapping_metal-broken: " in result.stderr and "is not a readable audio file" in result.stderr
    rows = read_dataset(tmp_path / "data")
    assert sorted({r.trigger for r in rows}) == ["brushing_glass", "tapping_metal", "tapping_wood"]
    assert len(rows) == 5
    for row in rows:
        original = sf.info(str(src / row.raw_label / f"{row.video_id.split('-', 1)[1]}.flac"))
        master = sf.info(str(row.master))
        assert (master.samplerate, master.channels) == (original.samplerate, original.channels)
        training = sf.info(str(row.path))
        assert (training.samplerate, training.channels) == (16000, 1)
        assert abs(training.frames / 16000 - (row.end - row.start)) < 0.01
        assert row.end - row.start <= original.duration + 0.001
    unknown = [m for m in read_manifest(tmp_path / "data") if m.trigger == "unknown"]
    assert [(m.raw_label, m.path) for m in unknown] == [("ambient pads", None)]


# -- manifest ----------------------------------------------------------------------------------------


def test_manifest_source_cuts_rows_from_local_audio(tmp_path: Path, cli: Any) -> None:
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    rate = 44100
    rng = np.random.default_rng(2)
    for video in ("-0JvV2HKwVI", "abcdefghijk"):
        sf.write(audio_dir / f"{video}.flac", (0.1 * rng.standard_normal((10 * rate, 2))).astype(np.float32), rate)
    csv = tmp_path / "asmr300k.csv"
    csv.write_text(
        "# YouTube-ASMR-300K style\n"
        "# YTID, start_seconds, end_seconds, label\n"
        "-0JvV2HKwVI, 1.0, 4.0\n"
        "-0JvV2HKwVI, 5.0, 9.5, tapping on glass\n"
        "abcdefghijk, 0.0, 3.0, intro\n"
        "abcdefghijk, 3.0, 30.0, scratching the bare mic\n"
        "abcdefghijk, 20.0, 25.0, mic brushing\n"
        "abcdefghijk, five, 8.0\n"
        "missingaudi, 0.0, 5.0\n"
        "../../secret/private, 0.0, 5.0\n"
    )
    (tmp_path / "secret").mkdir()
    sf.write(tmp_path / "secret" / "private.flac", np.zeros((rate, 2), dtype=np.float32), rate)
    result = cli(
        "data",
        "manifest",
        str(csv),
        "--audio-dir",
        str(audio_dir),
        "--trigger",
        "whispering",
        "--out",
        str(tmp_path / "data"),
    )
    assert result.returncode == 0, result.stderr
    assert "line 8: could not convert string to float" in result.stderr
    assert "missingaudi: no audio file missingaudi.<wav|flac|m4a|...>" in result.stderr
    assert "line 10: video id '../../secret/private' may hold only letters, digits" in result.stderr
    assert "starts after the audio ends" in result.stderr
    rows = read_dataset(tmp_path / "data")
    assert sorted((r.video_id, r.trigger, r.start, r.end) for r in rows) == [
        ("-0JvV2HKwVI", "tapping_glass", 5.0, 9.5),
        ("-0JvV2HKwVI", "whispering", 1.0, 4.0),
        ("abcdefghijk", "scratching_mic", 3.0, 10.0),
    ]
    assert {r.origin for r in rows} == {"manifest"}
    assert (tmp_path / "data" / "whispering" / "-0JvV2HKwVI_1000_4000.wav").is_file()


# -- sharding, resuming, the CLI -------------------------------------------------------------------------


def test_shards_partition_the_videos(tmp_path: Path) -> None:
    ids = [f"video{k}" for k in range(200)]
    shards = [{v for v in ids if in_shard(v, (i, 3))} for i in (1, 2, 3)]
    assert set().union(*shards) == set(ids) and sum(map(len, shards)) == len(ids)
    assert all(len(s) > 40 for s in shards)
    for bad in ("0/2", "3/2", "x", "1/0"):
        with pytest.raises(UsageError, match="--shard"):
            parse_shard(bad)

    source = SyntheticSource(minutes=0.1)
    out = tmp_path / "data"
    first = build_dataset(source, ["tapping_glass", "whispering"], out, shard=(1, 2))
    second = build_dataset(source, ["tapping_glass", "whispering"], out, shard=(2, 2))
    assert not set(first.processed) & set(second.processed)
    assert len(first.processed) + len(second.processed) == 6
    assert {r.video_id for r in read_dataset(out)} == {
        f"synth-{t}-{k}" for t in ("tapping_glass", "whispering") for k in range(3)
    }


def test_a_killed_run_leaves_no_half_written_file_and_resumes(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "data"
    synth = [
        "data",
        "synth",
        "--out",
        str(out),
        "--minutes",
        "0.3",
        "--triggers",
        "tapping_wood,brushing_mic,whispering,massaging_bi_mic",
    ]
    args = [sys.executable, "-m", "asmr_zoo", *synth]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / PARTS_DIR).glob("*.jsonl"))) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list((out / PARTS_DIR).glob("*.jsonl")))
    assert 2 <= finished < 12, "the run was killed part-way"
    for path in out.rglob("*"):
        if path.suffix in (".wav", ".flac") and not path.name.startswith("."):
            sf.read(str(path))  # every file under its final name is complete
        if path.suffix == ".jsonl":
            [json.loads(line) for line in path.read_text().splitlines()]

    result = cli(*synth)
    assert result.returncode == 0, result.stderr
    assert f"{12 - finished} processed, {finished} already done, 0 failed" in result.stdout
    assert len({r.video_id for r in read_dataset(out)}) == 12
    again = cli(*synth)
    assert "0 processed, 12 already done" in again.stdout


def test_synth_and_stats_cli(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "demo"
    result = cli(
        "data",
        "synth",
        "--out",
        str(out),
        "--triggers",
        "tapping_wood,brushing_mic",
        "--minutes",
        "0.1",
        "--seed",
        "7",
        "--sample-rate",
        "8000",
        "--format",
        "flac",
    )
    assert result.returncode == 0, result.stderr
    rows = read_dataset(out)
    assert {r.sample_rate for r in rows} == {8000} and {r.path.suffix for r in rows} == {".flac"}
    stats = cli("data", "stats", str(out), "--json")
    summary = json.loads(stats.stdout)
    assert set(summary["triggers"]) == {"tapping_wood", "brushing_mic"}
    for entry in summary["triggers"].values():
        assert entry["videos"] == 3 and entry["test_videos"] >= 1 and entry["train_videos"] >= 1
        assert 0.08 < entry["minutes"] <= 0.1  # less any silence trimmed
    table = cli("data", "stats", str(out))
    assert "tapping_wood" in table.stdout and "test videos" in table.stdout
    missing = cli("data", "stats", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "error: data set directory" in missing.stderr
    bad = cli("data", "synth", "--out", str(out), "--triggers", "tapping_cardboard")
    assert bad.returncode == 2 and "error: no synthetic recipe" in bad.stderr and "Traceback" not in bad.stderr


def test_data_help_and_listing_stay_torch_free(cli: Any) -> None:
    code = (
        "import sys; from asmr_zoo.cli.app import build_app;"
        "build_app()(['data', '--help'], standalone_mode=False);"
        "assert 'torch' not in sys.modules and 'yt_dlp' not in sys.modules and 'numpy' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for command in ("youtube", "synth", "folder", "manifest", "stats"):
        assert command in result.stdout
    listing = cli("list")
    for name in ("youtube", "folder", "manifest", "synthetic"):
        assert name in listing.stdout


def test_folder_files_whose_ids_would_collide_are_all_imported(tmp_path: Path, cli: Any) -> None:
    """take.wav + take.flac, tapping_glass-x/y.wav + tapping_glass/x-y.wav, one path under two roots."""
    one, two = tmp_path / "one", tmp_path / "two"
    rng = np.random.default_rng(0)
    for path in [
        one / "tapping_glass" / "take.wav",
        one / "tapping_glass" / "take.flac",
        one / "tapping_glass-x" / "y.wav",
        one / "tapping_glass" / "x-y.wav",
        one / "whispering" / "a.wav",
        two / "whispering" / "a.wav",
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), 0.3 * rng.standard_normal(16000), 16000)
    result = cli("data", "folder", str(one), str(two), "--out", str(tmp_path / "data"), "--min-seconds", "0.5")
    assert result.returncode == 0, result.stderr
    rows = read_manifest(tmp_path / "data")
    assert len(rows) == 6 and len({r.video_id for r in rows}) == 6, [r.video_id for r in rows]
    again = cli("data", "folder", str(one), str(two), "--out", str(tmp_path / "data"), "--min-seconds", "0.5")
    assert again.returncode == 0 and len(read_manifest(tmp_path / "data")) == 6  # reruns are idempotent


@pytest.mark.parametrize(
    "args", [["--minutes", "nan"], ["--minutes", "1e9"], ["--clip-seconds", "nan"], ["--minutes", "0"]]
)
def test_synth_rejects_non_finite_and_huge_lengths(tmp_path: Path, cli: Any, args: list[str]) -> None:
    result = cli("data", "synth", "--out", str(tmp_path / "d"), "--triggers", "whispering", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--minutes must be in (0, 600]" in lines[0], result.stderr
    assert not (tmp_path / "d").exists()


def test_synth_rerun_with_other_settings_is_refused(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "d"
    base = ["data", "synth", "--out", str(out), "--triggers", "whispering", "--minutes", "0.1", "--clip-seconds", "3"]
    assert cli(*base).returncode == 0
    manifest = (out / "manifest.jsonl").read_text()
    for change in (["--seed", "1"], ["--sample-rate", "22050"]):
        result = cli(*base, *change)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1, result.stderr
        assert f"was made by `data synth` with {change[0]} " in lines[0] and "another --out" in lines[0]
    assert (out / "manifest.jsonl").read_text() == manifest  # the data set is untouched
    again = cli(*base)
    assert again.returncode == 0, again.stderr
