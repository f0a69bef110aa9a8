"""Label-less ingest: the label source's reason in the manifest, header rows, ``--unlabelled``, ``--label auto``.

YouTube videos come from the local HTTP server of ``test_sources_youtube`` (yt-dlp for real, on 127.0.0.1);
the classifier is fitted on a small synthetic data set and labels synthetic renders it has not seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from asmr_zoo.dataset import MANIFEST_NAME, read_dataset, read_manifest, segment_stem
from asmr_zoo_sources.autolabel import AutoLabeller
from asmr_zoo_sources.build import build_dataset
from asmr_zoo_sources.label_sources import choose_labels
from asmr_zoo_sources.manifest_source import read_rows
from asmr_zoo_sources.synthetic import SyntheticSource
from asmr_zoo_sources.youtube import YouTubeSource
from tests import test_sources_youtube as youtube_tests
from tests.test_sources_youtube import OFFLINE_ENV, write_info

media, server, no_internet = youtube_tests.media, youtube_tests.server, youtube_tests.no_internet  # its fixtures

RATE = 16000


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if line.strip()]


# -- the label source's reason ---------------------------------------------------------------------------


def test_manifest_rows_record_why_their_labels_were_chosen(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    base, _ = server
    item = write_info(tmp_path, "reason00001", f"{base}/video.m4a")
    reason = choose_labels(json.loads(item.read_text()), comments=False).reason
    assert reason.startswith("description: 2 trigger marks")
    out = tmp_path / "data"
    build_dataset(YouTubeSource(workdir=out / ".work"), [str(item)], out)
    rows = read_manifest(out)
    assert len(rows) == 4 and {r.origin_reason for r in rows} == {reason}, "every row, unknown ones too"
    assert json.loads((out / MANIFEST_NAME).read_text().splitlines()[0])["origin_reason"] == reason


def test_old_manifests_without_the_new_fields_still_read(tmp_path: Path) -> None:
    sf.write(tmp_path / "clip.wav", np.zeros(RATE, dtype=np.float32), RATE)
    old = {
        "video_id": "v",
        "trigger": "whispering",
        "raw_label": "whisper",
        "start": 0.0,
        "end": 1.0,
        "origin": "folder",
        "path": "clip.wav",
        "sample_rate": RATE,
        "split": "train",
    }
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(old) + "\n")
    (row,) = read_manifest(tmp_path)
    assert (row.origin_reason, row.label_source, row.label_confidence) == ("", "", None)
    assert read_dataset(tmp_path)[0].trigger == "whispering"


# -- header rows -----------------------------------------------------------------------------------------


def test_header_rows_before_the_data_are_accepted_silently(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text(
        "# YouTube-ASMR-300K\n# another comment\nvideo_id,start,end\nYTID, start_seconds, end_seconds, labels\n"
        "abcdefghijk,1,2\nvideo_id,start,end\nabcdefghijk, five, 8.0\n"
    )
    rows, problems = read_rows(csv)
    assert [(r.video_id, r.start, r.end) for r in rows] == [("abcdefghijk", 1.0, 2.0)]
    assert problems == [
        f"{csv} line 6: could not convert string to float: 'start'",
        f"{csv} line 7: could not convert string to float: 'five'",
    ], "after the first data row a header-like row is malformed; so is a row with one number"
    csv.write_text("abcdefghijk, five, 8.0\nabcdefghijk,1,2\n")
    assert len(read_rows(csv)[1]) == 1, "a row with a number is data, never a header"


# -- label-less manifests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def label_less(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Audio files of clips a classifier has not seen, a label-less manifest of them, and a labelled data set."""
    root = tmp_path_factory.mktemp("label-less")
    audio = root / "audio"
    audio.mkdir()
    render = SyntheticSource(minutes=0.3, seed=5, clip_seconds=6, channels=1)
    tapping, brushing = (render.render(t, 0, "x").audio for t in ("tapping_wood", "brushing_mic"))
    clips = {"tapwood0001": tapping, "brushmic001": brushing, "mixedclip01": tapping + 0.3 * brushing}
    for name, clip in clips.items():
        sf.write(audio / f"{name}.wav", clip.T, render.rate)
    csv = root / "asmr300k.csv"
    csv.write_text("# YouTube-ASMR-300K\nvideo_id,start,end\n" + "".join(f"{n},0.0,6.0\n" for n in clips))
    labelled = root / "synth"
    build_dataset(SyntheticSource(minutes=0.2, seed=0, clip_seconds=6), ["tapping_wood", "brushing_mic"], labelled)
    return {"audio": audio, "csv": csv, "labelled": labelled, "clips": clips, "rate": render.rate}


def test_a_label_less_manifest_without_flags_is_refused_in_one_line(
    tmp_path: Path, cli: Any, label_less: dict[str, Any]
) -> None:
    out = tmp_path / "data"
    result = cli("data", "manifest", str(label_less["csv"]), "--audio-dir", str(label_less["audio"]), "--out", str(out))
    assert result.returncode != 0
    (line,) = _error_lines(result.stderr)  # no header-row warnings either
    assert line.startswith("error: none of the 3 manifest rows has a label naming a known trigger")
    assert "--trigger NAME" in line and "--unlabelled" in line and "--label auto --classifier-data DIR" in line
    assert not out.exists(), "nothing written"


def test_unlabelled_clips_are_written_and_a_rerun_labels_them_in_place(
    tmp_path: Path, cli: Any, label_less: dict[str, Any]
) -> None:
    audio, out = tmp_path / "audio", tmp_path / "data"
    audio.mkdir()
    for path in label_less["audio"].iterdir():
        (audio / path.name).write_bytes(path.read_bytes())
    base = ["data", "manifest", str(label_less["csv"]), "--audio-dir", str(audio), "--out", str(out)]
    result = cli(*base, "--unlabelled")
    assert result.returncode == 0, result.stderr
    assert "3 processed, 0 already done, 0 failed; 3 segments written (3 unlabelled)" in result.stdout
    rows = read_manifest(out)
    assert {(r.trigger, r.raw_label, r.label_source, r.label_confidence) for r in rows} == {("unknown", "", "", None)}
    for row in rows:
        stem = segment_stem(row.video_id, row.start, row.end)
        assert (row.path, row.master) == (f"unlabelled/{stem}.wav", f"masters/unlabelled/{stem}.flac")
        info = sf.info(str(out / row.path))
        assert (info.samplerate, info.channels) == (RATE, 1) and abs(info.duration - (row.end - row.start)) < 0.01
    with pytest.raises(Exception, match="no segments with a known trigger"):
        read_dataset(out)  # unlabelled clips are not training rows of a trigger

    for path in audio.iterdir():
        path.unlink()  # the classifier labels the clips already written: nothing is read again
    result = cli(*base, "--label", "auto", "--classifier-data", str(label_less["labelled"]))
    assert result.returncode == 0, result.stderr
    assert "0 processed, 3 already done, 0 failed" in result.stdout and "2 labelled by the classifier" in result.stdout
    by_video = {r.video_id: r for r in read_manifest(out)}
    assert {v: (r.trigger, r.label_source) for v, r in by_video.items()} == {
        "tapwood0001": ("tapping_wood", "classifier"),
        "brushmic001": ("brushing_mic", "classifier"),
        "mixedclip01": ("unknown", ""),
    }
    assert all(r.label_confidence >= 0.8 for v, r in by_video.items() if v != "mixedclip01")
    mixed = by_video["mixedclip01"]
    assert (
        mixed.label_confidence < 0.8 and mixed.note.startswith("classifier: ") and "--min-confidence 0.8" in mixed.note
    )
    assert mixed.path.startswith("unlabelled/") and (out / mixed.path).is_file()
    tapping = by_video["tapwood0001"]
    stem = segment_stem("tapwood0001", tapping.start, tapping.end)
    assert tapping.path == f"tapping_wood/{stem}.wav" and (out / tapping.path).is_file()
    assert tapping.master == f"masters/tapping_wood/{stem}.flac" and (out / tapping.master).is_file()
    assert not (out / f"unlabelled/{stem}.wav").exists(), "moved, not copied"
    assert {r.trigger for r in read_dataset(out)} == {"tapping_wood", "brushing_mic"}
    again = cli(*base, "--label", "auto", "--classifier-data", str(label_less["labelled"]))
    assert "0 labelled by the classifier" in again.stdout, "a clip is classified once"


def test_label_auto_labels_new_clips_as_they_are_cut(tmp_path: Path, label_less: dict[str, Any]) -> None:
    from asmr_zoo_sources.manifest_source import ManifestSource

    labeller = AutoLabeller.fit(label_less["labelled"], 0.8)
    out = tmp_path / "data"
    source = ManifestSource(audio_dir=label_less["audio"], unlabelled=True)
    report = build_dataset(source, [str(label_less["csv"])], out, labeller=labeller)
    assert (report.written, report.unlabelled_clips, report.classified) == (2, 1, 2)
    by_video = {r.video_id: r for r in report.rows}
    assert by_video["mixedclip01"].trigger == "unknown" and by_video["tapwood0001"].trigger == "tapping_wood"


def test_a_rerun_with_unlabelled_writes_what_an_earlier_run_kept_without_audio(
    tmp_path: Path, cli: Any, label_less: dict[str, Any]
) -> None:
    csv = tmp_path / "mixed.csv"
    csv.write_text("tapwood0001,0,3,wood tapping\ntapwood0001,3,6\nbrushmic001,0,6\n")
    base = ["data", "manifest", str(csv), "--audio-dir", str(label_less["audio"]), "--out", str(tmp_path / "d")]
    first = cli(*base)
    assert first.returncode == 0 and "1 segments written" in first.stdout, first.stderr
    second = cli(*base, "--unlabelled")
    assert "2 processed, 0 already done" in second.stdout and "3 segments written (2 unlabelled)" in second.stdout
    rows = read_manifest(tmp_path / "d")
    assert sorted((r.video_id, r.trigger, r.path is not None) for r in rows) == [
        ("brushmic001", "unknown", True),
        ("tapwood0001", "tapping_wood", True),
        ("tapwood0001", "unknown", True),
    ]
    assert "0 processed, 2 already done" in cli(*base, "--unlabelled").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "guess"], "--label must be 'source'"),
        (["--label", "auto"], "--label auto needs --classifier-data DIR"),
        (["--classifier-data", "x"], "--classifier-data is used by --label auto only"),
        (["--unlabelled", "--min-confidence", "0.5"], "--min-confidence is used by --label auto only"),
        (
            ["--label", "auto", "--classifier-data", "x", "--min-confidence", "1.5"],
            "--min-confidence must be in (0, 1]",
        ),
        (["--label", "auto", "--classifier-data", "nowhere"], "--classifier-data: data set directory /"),
        (["--unlabelled", "--workers", "0"], "--workers must be between 1 and 32"),
    ],
)
def test_bad_labelling_flags_are_one_line_errors(
    tmp_path: Path, cli: Any, label_less: dict[str, Any], args: list[str], message: str
) -> None:
    out = tmp_path / "data"
    result = cli(
        "data", "manifest", str(label_less["csv"]), "--audio-dir", str(label_less["audio"]), "--out", str(out), *args
    )
    assert result.returncode != 0
    (line,) = _error_lines(result.stderr)
    assert line.startswith("error: ") and message in line, line
    assert not (out / MANIFEST_NAME).exists()


def test_a_classifier_data_set_of_one_trigger_is_refused(tmp_path: Path, cli: Any, label_less: dict[str, Any]) -> None:
    one = tmp_path / "one"
    build_dataset(SyntheticSource(minutes=0.15, clip_seconds=3), ["tapping_wood"], one)
    result = cli("data", "manifest", str(label_less["csv"]), "--audio-dir", str(label_less["audio"]), "--out",
                 str(tmp_path / "data"), "--label", "auto", "--classifier-data", str(one))  # fmt: skip
    (line,) = _error_lines(result.stderr)
    assert result.returncode != 0 and "the classifier needs at least two" in line


# -- youtube ---------------------------------------------------------------------------------------------


def test_youtube_unlabelled_cuts_every_span(tmp_path: Path, server: tuple[str, list[str]], cli: Any) -> None:
    base, _ = server
    talk = write_info(tmp_path, "talkonly002", f"{base}/video.m4a", description="0:00 intro\n0:06 Q&A with my cat")
    mixed = write_info(tmp_path, "mixedspans1", f"{base}/video.m4a")
    out = tmp_path / "data"
    result = cli("data", "youtube", str(talk), str(mixed), "--out", str(out), "--unlabelled", env=OFFLINE_ENV)
    assert result.returncode == 0, result.stderr
    rows = read_manifest(out)
    assert sorted((r.video_id, r.raw_label, r.trigger, r.path.split("/")[0]) for r in rows) == [
        ("mixedspans1", "fluffy mic brushing", "brushing_sponge_mic", "brushing_sponge_mic"),
        ("mixedspans1", "glass tapping", "tapping_glass", "tapping_glass"),
        ("mixedspans1", "intro", "unknown", "unlabelled"),
        ("mixedspans1", "outro", "unknown", "unlabelled"),
        ("talkonly002", "Q&A with my cat", "unknown", "unlabelled"),
        ("talkonly002", "intro", "unknown", "unlabelled"),
    ]
    assert all(r.origin == "description" and r.origin_reason.startswith("description: ") for r in rows)
    assert not (out / ".work").exists(), "downloads are deleted, and their emptied folder"


def test_a_youtube_run_of_talk_only_videos_fails_in_one_line_and_unlabelled_fixes_it(
    tmp_path: Path, server: tuple[str, list[str]], cli: Any
) -> None:
    base, requests = server
    talk = write_info(tmp_path, "talkonly003", f"{base}/video.m4a", description="0:00 intro\n0:06 Q&A with my cat")
    out = tmp_path / "data"
    before = len(requests)
    result = cli("data", "youtube", str(talk), "--out", str(out), env=OFFLINE_ENV)
    assert result.returncode != 0 and requests[before:] == [], "nothing downloaded"
    errors = [line for line in _error_lines(result.stderr) if line.startswith("error: ")]
    assert errors == [
        "error: no clip was written: the 2 segments of the 1 video(s) processed name no known trigger (they are kept "
        "in the manifest as unknown); rerun with --unlabelled to write them as unlabelled clips, or --label auto "
        "--classifier-data DIR to label them with a classifier"
    ]
    fixed = cli("data", "youtube", str(talk), "--out", str(out), "--unlabelled", env=OFFLINE_ENV)
    assert fixed.returncode == 0 and "1 processed, 0 already done" in fixed.stdout, fixed.stderr
    assert [r.path.split("/")[0] for r in read_manifest(out)] == ["unlabelled", "unlabelled"]
