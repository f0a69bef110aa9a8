"""`asmr-zoo report`: the static listening report, opened in headless Chromium; the same command writes the same
audio, a re-run redoes only what changed (and resumes a failed one); model cards (`info --card`), Figure 8 and
one-line errors. Every test runs against an empty temporary ASMR_ZOO_HOME (the shipped registry only)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
# A conditioned checkpoint (one batch for both rows, Figure 8) and an unconditioned one (one row, "not served").
ARGS = ("--id", "wavenet-global", "--id", "wavernn-none-tapping-glass", "-t", "tapping_glass", "-t", "brushing_mic")
Cli = Callable[..., subprocess.CompletedProcess]


def report(cli: Cli, out: Path, data: Path, *extra: str, seconds: str = "0.5") -> subprocess.CompletedProcess:
    """`asmr-zoo report` of ARGS into ``out`` (given relative to its parent, as the page shows the command)."""
    args = ("report", "--out", out.name, "--data", str(data), *ARGS, "--seconds", seconds, *extra)
    result = cli(*args, env={"OMP_NUM_THREADS": "1"}, cwd=out.parent, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def invoke(*args: str) -> Any:
    """The CLI in this process (typer's CliRunner): its result, whose ``exception`` is the error it raised."""
    from typer.testing import CliRunner

    from asmr_zoo.cli.app import build_app

    return CliRunner().invoke(build_app(), list(args))


def one_line_error(result: subprocess.CompletedProcess, code: int, message: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server, as any web host would serve the site, without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def audio_files(site: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((site / "audio").glob("*.wav"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, module_cli: Cli) -> Path:
    """A tiny procedural corpus of the two triggers (4 synthetic videos each, split by video)."""
    out = tmp_path_factory.mktemp("corpus") / "data"
    args = ["--triggers", "tapping_glass,brushing_mic", "--minutes", "0.3", "--clip-seconds", "5", "--channels", "1"]
    result = module_cli("data", "synth", "--out", str(out), *args, "--seed", "3", env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path, module_cli: Cli
) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("site") / "site"
    return out, report(module_cli, out, corpus)


def test_site_has_the_grid_cards_and_figure(site) -> None:
    out, result = site
    assert "generating wavenet-global: tapping_glass, brushing_mic" in result.stderr  # both rows in one batch
    assert "5 clips made, 0 reused" in result.stderr  # 2 real + 2 conditioned + 1 unconditioned
    html = (out / "index.html").read_text()
    assert html.count("<audio ") == 5 and "not served" in html
    assert html.count("<dt>heard as</dt>") == 5  # the classifier fitted on the corpus' train split
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all("://" not in link and not link.startswith("//") for link in links)  # no CDN, no URL
    for link in links:
        target = link.split("#")[0]
        assert not target or target == "data:," or (out / target).is_file(), link
    for checkpoint in ("wavenet-global", "wavernn-none-tapping-glass"):
        assert (out / "cards" / f"{checkpoint}.md").is_file() and (out / "cards" / f"{checkpoint}.html").is_file()
    assert [p.name for p in (out / "figures").iterdir()] == ["wavenet-global.png"]  # conditioned only
    for name in audio_files(out):
        info = sf.info(str(out / "audio" / name))
        assert info.samplerate == 16000 and abs(info.duration - 0.5) < 0.01


def test_the_page_in_headless_chromium(site, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")

    out, _ = site
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    urls = {"file": (out / "index.html").as_uri(), "http": f"http://127.0.0.1:{server.server_port}/index.html"}
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
            for scheme, url in urls.items():
                for width in (1280, 390):
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    problems: list[str] = []
                    page.on("console", lambda m, p=problems: p.append(m.text) if m.type == "error" else None)
                    page.on("pageerror", lambda e, p=problems: p.append(str(e)))
                    page.on("requestfailed", lambda r, p=problems: p.append(f"failed: {r.url}"))
                    page.goto(url, wait_until="load")
                    page.wait_for_function(
                        "[...document.querySelectorAll('audio')].every(a => a.readyState >= 1 || a.error)"
                    )
                    durations = page.eval_on_selector_all("audio", "els => els.map(a => a.duration)")
                    assert len(durations) == 5 and all(d > 0 for d in durations), durations
                    images = page.eval_on_selector_all("img", "els => els.map(i => i.complete && i.naturalWidth)")
                    assert len(images) == 6 and all(images), images  # 5 clips and Figure 8
                    scroll_width = page.evaluate("document.documentElement.scrollWidth")
                    assert scroll_width <= width  # the grid scrolls, not the page
                    assert problems == [], problems
                    shot = tmp_path / f"report-{scheme}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    assert int.from_bytes(shot.read_bytes()[16:20], "big") == width  # the PNG's width
                    page.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def test_same_command_same_audio(site, corpus: Path, tmp_path: Path, module_cli: Cli) -> None:
    out, _ = site
    again = tmp_path / "site"  # the same command, in another folder

    def files(root: Path) -> dict[Path, bytes]:
        return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    report(module_cli, again, corpus)
    assert audio_files(again) == audio_files(out)
    assert files(again) == files(out)  # pictures, cards, index.html and report.json too


def test_rerun_redoes_only_what_changed(site, corpus: Path, tmp_path: Path, module_cli: Cli) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site[0], copy)
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file() and p.name != "report.json"}
    assert "0 clips made, 5 reused" in report(module_cli, copy, corpus).stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing rewritten, index.html included

    (lost,) = (copy / "audio").glob("wavernn-none-tapping-glass.*.wav")
    lost.unlink()
    result = report(module_cli, copy, corpus)
    assert "1 clips made, 4 reused" in result.stderr and "generating wavernn-none-tapping-glass" in result.stderr
    assert lost.is_file()

    old = set(audio_files(copy))
    result = report(module_cli, copy, corpus, seconds="0.25")
    assert "5 clips made, 0 reused" in result.stderr
    assert not old & set(audio_files(copy))  # the 0.5 s clips and their pictures are gone
    assert len(list((copy / "images").iterdir())) == 5
    assert all(abs(sf.info(str(p)).duration - 0.25) < 0.01 for p in (copy / "audio").iterdir())


def test_a_stereo_report_places_the_generated_clips_and_plays_the_real_stereo(tmp_path: Path, module_cli: Cli) -> None:
    stereo_corpus = tmp_path / "data"  # data synth keeps stereo masters (the training copies are mono)
    args = ["--triggers", "tapping_glass,brushing_mic", "--minutes", "0.3", "--clip-seconds", "5", "--seed", "3"]
    assert module_cli("data", "synth", "--out", str(stereo_corpus), *args).returncode == 0
    out = tmp_path / "site"
    result = report(module_cli, out, stereo_corpus, "--channels", "2")
    assert "5 clips made" in result.stderr
    for path in (out / "audio").glob("*.wav"):
        audio, _ = sf.read(path)
        assert audio.ndim == 2 and audio.shape[1] == 2, path.name
        assert np.abs(audio[:, 0] - audio[:, 1]).max() > 1e-3, f"{path.name} is dual mono"  # placed, or recorded
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "placed between the ears by the pan prior <code>pan-prior</code>" in page and "--channels 2" in page


def test_without_data_the_page_keeps_registry_figures_and_drops_verdicts(site, tmp_path: Path, module_cli: Cli) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site[0], copy)
    result = module_cli("report", "--out", "site", *ARGS, "--seconds", "0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 clips made, 3 reused" in result.stderr  # the generated clips; no real column without --data
    html = (copy / "index.html").read_text()
    assert "real (held-out)</th>" not in html and "<dt>heard as</dt>" not in html  # no verdicts of other data
    assert html.count("<dt>bits (unigram)</dt>") == html.count("<dt>onsets/s</dt>") == 3
    assert not list((copy / "audio").glob("held-out.*"))


def test_info_card_is_the_sites_card(site, cli: Cli, zoo_home: Path) -> None:
    import asmr_zoo
    from asmr_zoo.checkpoints import read_metadata
    from asmr_zoo.errors import UsageError
    from asmr_zoo.registry import load_registry

    result = cli("info", "wavenet-global", "--card")
    assert result.returncode == 0, result.stderr
    card = result.stdout
    assert card == (site[0] / "cards" / "wavenet-global.md").read_text()
    model = asmr_zoo.load("wavenet-global").model
    assert f"| parameters | {sum(p.numel() for p in model.parameters()):,} |" in card
    assert f"| receptive field | {model.receptive_field:,} samples" in card
    assert "| sample rate | 16,000 Hz |" in card and "| codec | mulaw8 (1 x 256 classes) |" in card
    for heading in ("Training data and provenance", "Training", "Metrics", "Intended use", "Limitations", "Licence"):
        assert f"\n## {heading}\n" in card
    assert "asmr-zoo data synth --minutes 1.5 --clip-seconds 7.5 --seed 0" in card and "\nCC0-1.0\n" in card
    meta = read_metadata(CHECKPOINTS / "wavenet-global.safetensors")
    steps, step = json.loads(meta["extra.train"])["steps"], json.loads(meta["extra.metrics"])["step"]
    assert f"- steps: {steps:,} (the weights are those of step {step:,}, the best held-out NLL)" in card
    # The limitations name the data the figures were measured on, not a fixed corpus.
    corpus = load_registry().get("wavenet-global").metrics["generation"]["data"]
    assert f"statistics on held-out data ({corpus}), not from listeners" in card
    wavernn = cli("info", "wavernn-none-tapping-glass", "--card").stdout
    assert "| receptive field | none declared (it may look back without limit); trained on windows of 1,000" in wavernn
    both = invoke("info", "wavenet-global", "--card", "--json")
    assert isinstance(both.exception, UsageError) and "--card" in str(both.exception) and both.stdout == ""


def test_limitations_use_the_recorded_clip_length_and_data() -> None:
    from asmr_zoo.model_card import limitations

    facts = {
        "data": {"source": "my-recordings"},
        "receptive_field": None,
        "window_ms": None,
        "per_trigger": {},
        "metrics": {"collapsed": 0.25, "seconds": 4.0, "corpus": None},
    }
    text = " ".join(limitations(facts))
    assert "25% of its 4 s generated clips collapsed to silence" in text
    assert "held-out data (source: my-recordings)" in text and "synthetic" not in text


def test_figure_8_has_a_legend_by_technique_and_names_checkpoint_and_step(
    site, corpus: Path, cli: Cli, zoo_home: Path, tmp_path: Path
) -> None:
    import asmr_zoo
    from asmr_zoo.checkpoints import read_metadata, weights_step
    from asmr_zoo.evaluation import embedding_figure

    gen = asmr_zoo.load("wavenet-global")
    step = weights_step(read_metadata(CHECKPOINTS / "wavenet-global.safetensors"))
    assert isinstance(step, int)
    ax = embedding_figure(gen.model, "wavenet-global", step).axes[0]
    techniques = ["brushing", "massaging", "scratching", "tapping", "whispering"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == techniques
    assert len({tuple(c.get_facecolor()[0]) for c in ax.collections}) == len(techniques)  # one colour each
    assert ax.get_title().startswith(f"wavenet-global (wavenet / global, step {step})")
    assert f"weights of step {step}" in (site[0] / "index.html").read_text()

    png = tmp_path / "fig8.png"
    checkpoint = str(CHECKPOINTS / "wavenet-global.safetensors")
    result = cli("eval", checkpoint, "--data", str(corpus), "--clips", "0", "--embeddings", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--id", "no-such-id"), "no checkpoint with id 'no-such-id'"),
        (("--id", "wavernn-none-tapping-glass", "-t", "whispering"), "does not serve 'whispering'"),
        (("--id", "wavenet-global", "-t", "tapping_glas"), "did you mean 'tapping_glass'?"),
        (("--seconds", "0"), "--seconds must be in (0, 3600]"),
        (("--seconds", "-1"), "--seconds must be in (0, 3600]"),
        (("--seconds", "1e9"), "--seconds must be in (0, 3600]"),
        (("--seconds", "nan"), "--seconds must be in (0, 3600]"),
        (("--seconds", "61"), "--seconds must be at most 60 for a report"),
        (("--data", "{tmp}/not-a-data-set"), "data set directory"),
        (("--data", "{tmp}/empty"), "has no manifest.jsonl"),
        (("--out", "{tmp}/missing/site"), "directory {tmp}/missing does not exist; create it first"),
        (("--channels", "3"), "--channels must be 1 or 2, got 3"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, zoo_home: Path, args: tuple[str, ...], message: str
) -> None:
    from asmr_zoo.errors import AsmrZooError

    (tmp_path / "empty").mkdir()
    result = invoke("report", "--out", str(tmp_path / "site"), *(a.format(tmp=tmp_path) for a in args))
    error = result.exception
    assert isinstance(error, AsmrZooError), result.output
    assert message.format(tmp=tmp_path) in str(error) and "\n" not in str(error)
    assert not (tmp_path / "site").exists() and not (tmp_path / "missing").exists()


def test_bad_input_is_one_line_on_stderr_and_a_nonzero_exit(cli: Cli, zoo_home: Path, tmp_path: Path) -> None:
    one_line_error(cli("report", "--out", "site", "--id", "no-such-id"), 2, "no checkpoint with id 'no-such-id'")
    (tmp_path / "empty").mkdir()
    one_line_error(cli("report", "--out", "site", "--data", "empty"), 1, "empty has no manifest.jsonl")
    assert not (tmp_path / "site").exists()


def test_out_must_be_a_report_folder(tmp_path: Path) -> None:
    from asmr_zoo.errors import UsageError
    from asmr_zoo.report import SITE_DIRS, check_out

    (tmp_path / "file").write_text("keep me")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    for out, message in (("file", "is a file"), ("other", "no report.json"), ("no/site", "does not exist")):
        with pytest.raises(UsageError, match=message):
            check_out(tmp_path / out)
    assert (tmp_path / "file").read_text() == "keep me"
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]
    for folder in SITE_DIRS:  # what a run killed before its first report.json leaves
        (tmp_path / "killed" / folder).mkdir(parents=True)
    check_out(tmp_path / "killed")
    check_out(tmp_path / "new")


def test_a_failed_first_run_is_resumed_by_the_next(tmp_path: Path, zoo_home: Path, monkeypatch) -> None:
    import asmr_zoo
    from asmr_zoo import report as site_report
    from asmr_zoo.errors import DataError

    out = tmp_path / "site"

    def plan() -> Any:
        return site_report.plan_report(["wavernn-none-tapping-glass"], [], 0.1, 0, None, "asmr-zoo report")

    def unreadable(site: Any) -> None:
        raise DataError("a held-out clip is unreadable")

    with monkeypatch.context() as patch:  # the first run fails before it has made anything
        patch.setattr(site_report.Site, "real", unreadable)
        with pytest.raises(DataError):
            site_report.build_report(plan(), out)
    assert {p.name for p in out.iterdir()} == {*site_report.SITE_DIRS, site_report.REPORT_FILE}
    assert site_report.build_report(plan(), out)["generated"] == 1
    assert site_report.build_report(plan(), out) == {"generated": 0, "reused": 1, "checkpoints": 1, "figures": 0}
    monkeypatch.setattr(asmr_zoo, "__version__", "0.0.0+another")  # a new asmr-zoo remakes the clips
    assert site_report.build_report(plan(), out)["generated"] == 1


def test_the_same_weights_under_two_ids_are_two_columns(cli: Cli, zoo_home: Path, tmp_path: Path) -> None:
    from asmr_zoo.report import build_report, plan_report

    registered = cli("register", str(CHECKPOINTS / "wavenet-none-whispering.safetensors"), "--id", "my-whisper")
    assert registered.returncode == 0, registered.stderr
    plan = plan_report(["wavenet-none-whispering", "my-whisper"], [], 0.1, 0, None, "asmr-zoo report")
    shipped, mine = (c.cells["whispering"] for c in plan.columns)
    assert shipped.sha256 == mine.sha256 and shipped.id != mine.id
    out = tmp_path / "site"
    assert build_report(plan, out) == {"generated": 2, "reused": 0, "checkpoints": 2, "figures": 0}
    clips = audio_files(out)
    assert sorted(name.split(".")[0] for name in clips) == ["my-whisper", "wavenet-none-whispering"]
    assert len(set(clips.values())) == 1  # the same weights and seed: the same audio
    assert 'href="cards/my-whisper.html"' in (out / "index.html").read_text()


def test_a_conditioned_model_without_embeddings_gets_no_figure_8(example_zoo, zoo_home: Path, tmp_path: Path) -> None:
    """The example plugin's bigram model, conditioned by a per-trigger bias: no embeddings to plot. It is known
    to ``example_zoo`` only, so this also checks that the report loads with the zoo it is given."""
    from asmr_zoo.checkpoints import save_checkpoint
    from asmr_zoo.factory import build_model
    from asmr_zoo.paths import user_registry
    from asmr_zoo.registry import add_user_entry, entry_from_checkpoint
    from asmr_zoo.report import build_report, plan_report

    triggers = ["tapping_glass", "brushing_mic"]
    model = build_model("bigram", "global", triggers, zoo=example_zoo)
    assert model.conditioner.conditioned and model.trigger_embeddings() is None
    path = zoo_home / "bigram.safetensors"
    save_checkpoint(path, model)
    entry = entry_from_checkpoint(path, zoo_home, "my-bigram", triggers, colour="blue")  # an unknown key
    add_user_entry(entry, user_registry())
    notes: list[str] = []
    plan = plan_report(["my-bigram"], [], 0.05, 0, None, "asmr-zoo report", example_zoo, notes.append)
    assert any(n.startswith("warning: ") and "unknown key 'colour' ignored" in n for n in notes), notes
    out = tmp_path / "site"
    assert build_report(plan, out, notes.append) == {"generated": 2, "reused": 0, "checkpoints": 1, "figures": 0}
    assert "figure-8" not in (out / "index.html").read_text() and not list((out / "figures").iterdir())


def test_a_damaged_report_json_is_remade_not_trusted(tmp_path: Path, zoo_home: Path, monkeypatch) -> None:
    import matplotlib

    from asmr_zoo.report import REPORT_FILE, build_report, plan_report

    out = tmp_path / "site"
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("the report changed matplotlib's backend"))

    def build() -> dict[str, int]:
        return build_report(plan_report(["wavenet-global"], ["tapping_glass"], 0.1, 0, None, "asmr-zoo report"), out)

    def damage(change: Callable[[dict[str, Any]], None]) -> None:
        cache = json.loads((out / REPORT_FILE).read_text())
        change(cache)
        (out / REPORT_FILE).write_text(json.dumps(cache))

    assert build() == {"generated": 1, "reused": 0, "checkpoints": 1, "figures": 1}
    assert build()["reused"] == 1

    def missing_keys(cache: dict[str, Any]) -> None:
        (job,) = cache["clips"].values()
        del job["clips"]["tapping_glass"]["flatness"]
        del cache["cards"]["wavenet-global"]["facts"]["metrics"]
        del cache["figures"]["wavenet-global"]["key"]

    damage(missing_keys)
    assert build() == {"generated": 1, "reused": 0, "checkpoints": 1, "figures": 1}
    assert "metrics" in json.loads((out / REPORT_FILE).read_text())["cards"]["wavenet-global"]["facts"]

    def wrong_types(cache: dict[str, Any]) -> None:
        cache["clips"] = []
        cache["cards"]["wavenet-global"] = "facts"

    damage(wrong_types)
    assert build()["generated"] == 1


def test_default_columns_are_the_default_pairs_with_what_run_picks(cli: Cli, zoo_home: Path) -> None:
    from asmr_zoo.paths import shipped_registry
    from asmr_zoo.registry import read_registry_file
    from asmr_zoo.report import plan_report
    from asmr_zoo.triggers import COMMON_TRIGGERS

    plan = plan_report([], [], 1.0, 0, None, "asmr-zoo report --out site")
    shipped, _warnings = read_registry_file(shipped_registry())
    from asmr_zoo.checkpoints import AUXILIARY

    defaults = [f"{e.model} / {e.conditioner}" for e in shipped if e.default and e.model not in AUXILIARY]
    assert len(defaults) < sum(e.default for e in shipped)  # the upmixer and the pan prior get no column
    columns = {c.title: c for c in plan.columns}
    assert len(columns) == len(plan.columns) == 5 and set(columns) == set(defaults)
    assert plan.triggers == list(COMMON_TRIGGERS)
    for model, conditioner, trigger in (("wavenet", "global", "tapping_glass"), ("wavernn", "none", "brushing_mic")):
        result = cli("run", model, "-c", conditioner, "-t", trigger, "-s", "0.01", "-o", "x.wav")
        assert result.returncode == 0, result.stderr
        (picked,) = re.findall(r", from (\S+)\)", result.stderr)
        assert columns[f"{model} / {conditioner}"].cells[trigger].id == picked
    jobs = plan.jobs()
    assert all(len(triggers) == (1 if entry.conditioner == "none" else 11) for entry, triggers in jobs.values())
