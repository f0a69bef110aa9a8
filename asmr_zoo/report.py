"""The listening report: a static, self-contained site with real and generated clips side by side.

``plan_report`` checks every input and decides the grid (one row per trigger, one column per model/conditioner
pair or per ``--id``) without writing anything; ``build_report`` writes the site: WAV clips, spectrogram and
waveform pictures, Figure 8 per conditioned checkpoint, a model card per checkpoint (HTML and Markdown) and
``index.html``, all from Jinja2 templates, with relative links only (it works from ``file://``).

Generation is seeded. ``report.json`` in the site folder records what each file was made from (checkpoint id
and sha256, triggers, seconds, seed, sampler and the asmr-zoo version; the data set's fingerprint for the
classifier's verdicts), so a re-run only redoes what changed; it is written as soon as the folders are, so a
killed or failed run is resumed by the next. Every file is written atomically. A conditioned checkpoint
generates all its rows in one batch, so a clip depends on the batch's triggers as well: adding a row redoes that
checkpoint's clips.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asmr_zoo.dataset import DatasetRow
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.registry import Entry

REPORT_FILE = "report.json"
FORMAT = 2  # bump when what a cached file contains changes
MAX_SECONDS = 60.0  # a report's clips; `asmr-zoo run` allows longer ones
SAMPLER = "ancestral"  # the sampler `asmr-zoo run` and `asmr-zoo eval` use by default
SITE_DIRS = ("audio", "images", "figures", "cards")
CACHE_SECTIONS = ("clips", "cards", "figures")
REAL_TITLE = "real (held-out)"  # the first column's title with --data (no checkpoint id has a space)
Log = Callable[[str], None]


@dataclass
class Column:
    """One column of the grid: a title and the checkpoint that fills each of its rows."""

    title: str
    cells: dict[str, Entry]  # trigger -> checkpoint


@dataclass
class Plan:
    """Everything the report shows, checked: nothing is written until ``build_report``."""

    columns: list[Column]
    triggers: list[str]
    seconds: float
    seed: int
    command: str
    by_id: bool = False  # columns are the given checkpoints, not model/conditioner pairs
    data: Path | None = None
    fingerprint: str | None = None  # sha256 of the data set's manifest
    real: dict[str, DatasetRow] = field(default_factory=dict)  # trigger -> its first held-out clip
    train_rows: list[DatasetRow] = field(default_factory=list)
    zoo: Any = None  # the plugins the checkpoints are loaded with (None: the process-wide zoo)
    pan: Entry | None = None  # stereo (--channels 2): the pan prior that places the generated clips

    def jobs(self) -> dict[str, tuple[Entry, list[str]]]:
        """Checkpoint id -> (entry, the rows it generates), in grid order."""
        out: dict[str, tuple[Entry, list[str]]] = {}
        for trigger in self.triggers:
            for column in self.columns:
                entry = column.cells.get(trigger)
                if entry is not None and trigger not in out.setdefault(entry.id, (entry, []))[1]:
                    out[entry.id][1].append(trigger)
        return out


def _trigger_order(trigger: str) -> tuple[int, str]:
    """Sort key of a row: the paper's common triggers in their order, then any others by name."""
    from asmr_zoo.triggers import COMMON_TRIGGERS

    return (COMMON_TRIGGERS.index(trigger) if trigger in COMMON_TRIGGERS else len(COMMON_TRIGGERS), trigger)


def default_columns(registry: Any) -> list[Column]:
    """One column per (model, conditioner) pair in the registry; each row holds what `asmr-zoo run` picks."""
    from asmr_zoo.checkpoints import AUXILIARY

    pairs = dict.fromkeys((e.model, e.conditioner) for e in registry.entries.values() if e.model not in AUXILIARY)
    columns = []
    for model, conditioner in pairs:
        served = {t for e in registry.find(model, conditioner) for t in e.triggers}
        cells = {t: registry.resolve(model, conditioner, t) for t in sorted(served, key=_trigger_order)}
        columns.append(Column(f"{model} / {conditioner}", cells))
    return columns


def plan_report(
    ids: Sequence[str],
    triggers: Sequence[str],
    seconds: float,
    seed: int,
    data: Path | None,
    command: str,
    zoo: Any = None,
    note: Log | None = None,
    channels: int = 1,
) -> Plan:
    """Check the request and lay out the grid; raises ``UsageError`` / ``DataError`` with a one-line message.
    The registry's warnings go to ``note``. ``channels`` 2: every generated clip is placed by the registered pan
    prior, and the real clips are their stereo masters."""
    from asmr_zoo.api import check_request, pick_trigger
    from asmr_zoo.plugins import get_zoo
    from asmr_zoo.registry import load_registry

    check_request(seconds, 1)
    if seconds > MAX_SECONDS:
        raise UsageError(f"--seconds must be at most {MAX_SECONDS:g} for a report, got {seconds:g}")
    zoo = zoo or get_zoo()
    registry = load_registry(zoo)
    for warning in registry.warnings if note is not None else ():
        note(f"warning: {warning}")
    if ids:
        entries = [registry.get(i) for i in dict.fromkeys(ids)]
        columns = [Column(e.id, {t: e for t in sorted(e.triggers, key=_trigger_order)}) for e in entries]
    else:
        columns = default_columns(registry)
    if not columns:
        raise UsageError("no checkpoints are registered: train one with `asmr-zoo train` and `asmr-zoo register` it")
    served = sorted({t for c in columns for t in c.cells}, key=_trigger_order)
    rows = list(dict.fromkeys(pick_trigger(t, served, note) for t in triggers)) if triggers else served
    for column in columns:
        column.cells = {t: e for t, e in column.cells.items() if t in rows}
    plan = Plan(columns, rows, float(seconds), seed, command, by_id=bool(ids), zoo=zoo)
    if channels not in (1, 2):
        raise UsageError(f"--channels must be 1 or 2, got {channels}")
    if channels == 2:
        plan.pan = _pan_entry(registry, rows)
    if data is not None:
        from asmr_zoo.dataset import MANIFEST_NAME, read_dataset

        dataset = read_dataset(data)
        test = sorted((r for r in dataset if r.split == "test"), key=lambda r: (r.video_id, r.start))
        if not test:
            raise DataError(f"{data} has no held-out (test) clips to listen to; re-make it with `asmr-zoo data`")
        plan.data = data
        plan.fingerprint = hashlib.sha256((Path(data) / MANIFEST_NAME).read_bytes()).hexdigest()
        plan.real = {t: next(r for r in test if r.trigger == t) for t in rows if any(r.trigger == t for r in test)}
        plan.train_rows = [r for r in dataset if r.split == "train"]
    return plan


def _pan_entry(registry: Any, triggers: list[str]) -> Entry:
    """The registered pan prior serving every row (``--channels 2``)."""
    from asmr_zoo.checkpoints import PAN_PRIOR

    priors = registry.find(model=PAN_PRIOR)
    serving = [e for e in priors if set(triggers) <= set(e.triggers)]
    if not serving:
        missing = sorted(set(triggers) - {t for e in priors for t in e.triggers}) or triggers
        raise UsageError(
            f"--channels 2 needs a pan prior serving every row; none serves {', '.join(missing)}: pass "
            f"--trigger for the rows it serves, or train one with `asmr-zoo train-pan` and register it"
        )
    return serving[0]


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a file, lies in a folder that does not exist, or is a folder with other things
    in it than an earlier report (its ``report.json``, or only the site's own folders)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the site")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist; create it first")
    others = out.is_dir() and any(not (p.name in SITE_DIRS and p.is_dir()) for p in out.iterdir())
    if others and not (out / REPORT_FILE).is_file():
        raise UsageError(f"--out {out} is a folder with other files in it and no {REPORT_FILE}: choose a new folder")


def _digest(*parts: Any) -> str:
    """The cache key of what ``parts`` describe, under this cache format and this asmr-zoo version."""
    from asmr_zoo import __version__

    text = json.dumps([FORMAT, __version__, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically, unless the file already holds it (so its time stamp says when it changed)."""
    from asmr_zoo.checkpoints import atomic_write

    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def clip_picture(wav: np.ndarray, rate: int, path: Path) -> None:
    """A PNG of the clip's spectrogram (0-8 kHz, a fixed 90 dB range so cells compare) over its waveform."""
    from matplotlib.figure import Figure

    from asmr_zoo.audio import resample
    from asmr_zoo.checkpoints import atomic_write
    from asmr_zoo.generation_metrics import log_spectrogram

    wav16 = resample(wav[None].astype(np.float32), rate, 16000)[0]
    seconds = len(wav16) / 16000
    fig = Figure(figsize=(3.2, 2.0), dpi=100)  # not pyplot: the process's backend is left alone
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
    spectrogram = log_spectrogram(wav16)
    top.imshow(spectrogram, origin="lower", aspect="auto", cmap="magma", vmin=-90, vmax=0, extent=(0, seconds, 0, 8))
    top.set_yticks([0, 4, 8])
    top.set_ylabel("kHz", fontsize=7)
    bottom.plot(np.arange(len(wav)) / rate, wav, linewidth=0.4, color="#3b3b98")
    bottom.set_ylim(-1, 1)
    bottom.set_yticks([])
    bottom.set_xlim(0, seconds)
    bottom.set_xlabel("seconds", fontsize=7)
    for ax in (top, bottom):
        ax.tick_params(labelsize=6, length=2)
    fig.subplots_adjust(left=0.13, right=0.98, top=0.97, bottom=0.17)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))


def _sha(path: Path) -> str:
    """The sha256 of a file's bytes (the site's files are small)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid_clip(clip: Any) -> bool:
    """Whether a cached clip has every field the page needs, of the right type (a hand-edited or damaged
    ``report.json`` may lack some: such an entry is made again, not trusted)."""
    return (
        isinstance(clip, dict)
        and all(isinstance(clip.get(k), str) for k in ("audio", "image", "sha256"))
        and all(isinstance(clip.get(k), (int, float)) for k in ("seconds", "onset_rate", "flatness"))
        and isinstance(clip.get("heard_as", {}), dict)
    )


class Site:
    """One build of the site in ``out``: the cache read from ``report.json`` and what this run made."""

    def __init__(self, plan: Plan, out: Path, log: Log) -> None:
        from asmr_zoo.plugins import get_zoo

        self.plan, self.out, self.log = plan, out, log
        self.zoo = plan.zoo or get_zoo()
        self.old = self._read_cache()
        self.clips: dict[str, dict[str, Any]] = {}  # job key -> {"checkpoint", "clips": {trigger: clip}}
        self.cards: dict[str, dict[str, Any]] = {}
        self.figures: dict[str, dict[str, Any]] = {}
        self.generated = self.reused = 0
        self._models: dict[str, Any] = {}
        self._pan: Any = None  # the pan prior, loaded on first use

    def _read_cache(self) -> dict[str, dict[str, Any]]:
        """The earlier run's sections of ``report.json``; empty when it is missing, unreadable or of another
        format, or where a section is not a mapping."""
        try:
            cache = json.loads((self.out / REPORT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        if not (isinstance(cache, dict) and cache.get("format") == FORMAT):
            cache = {}
        return {k: cache[k] if isinstance(cache.get(k), dict) else {} for k in CACHE_SECTIONS}

    def model(self, entry: Entry) -> Any:
        """The loaded (sha256-checked) model of ``entry``, once per build."""
        from asmr_zoo.api import Generator

        if entry.id not in self._models:
            self._models[entry.id] = Generator.from_entry(entry, self.zoo)
        return self._models[entry.id]

    def save_cache(self, final: bool = False) -> None:
        """``report.json``: this run's entries, and until the end the earlier run's too (a killed run resumes)."""
        from asmr_zoo.checkpoints import atomic_write

        mine = {"clips": self.clips, "cards": self.cards, "figures": self.figures}
        cache = {"format": FORMAT, **{k: mine[k] if final else {**self.old[k], **mine[k]} for k in CACHE_SECTIONS}}
        text = json.dumps(cache, indent=1) + "\n"  # insertion order: cached cards render as fresh ones
        atomic_write(self.out / REPORT_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _cached(self, key: str, checkpoint: str | None, triggers: list[str]) -> dict[str, Any] | None:
        """The cached job ``key``: the clips of exactly ``triggers`` from ``checkpoint``, every field present and
        the files intact; else ``None``."""
        job = self.old["clips"].get(key)
        if not (isinstance(job, dict) and job.get("checkpoint") == checkpoint and isinstance(job.get("clips"), dict)):
            return None
        if set(job["clips"]) != set(triggers) or not all(_valid_clip(c) for c in job["clips"].values()):
            return None
        for clip in job["clips"].values():
            audio, image = self.out / clip["audio"], self.out / clip["image"]
            if not (audio.is_file() and image.is_file() and _sha(audio) == clip["sha256"]):
                return None
        return job

    def _store(self, key: str, checkpoint: str | None, clips: dict[str, tuple[np.ndarray, int]]) -> None:
        from asmr_zoo import generation_metrics as gm
        from asmr_zoo.audio import write_audio

        stored = {}
        for trigger, (wav, rate) in clips.items():
            stem = f"{checkpoint or 'held-out'}.{trigger}.{key[:12]}"
            audio, image = self.out / "audio" / f"{stem}.wav", self.out / "images" / f"{stem}.png"
            write_audio(audio, wav, rate)
            mid = wav if wav.ndim == 1 else wav.mean(axis=0)  # a stereo clip is pictured and measured by its mid
            clip_picture(mid, rate, image)
            stats = gm.audio_statistics([mid], rate)
            stored[trigger] = {
                "audio": audio.relative_to(self.out).as_posix(),
                "image": image.relative_to(self.out).as_posix(),
                "sha256": _sha(audio),
                "seconds": round(len(wav) / rate, 3),
                "onset_rate": round(stats["onset_rate"], 3),
                "flatness": round(stats["flatness"], 4),
            }
        self.clips[key] = {"checkpoint": checkpoint, "clips": stored}
        self.generated += len(stored)
        self.save_cache()

    def _job(
        self,
        key: str,
        checkpoint: str | None,
        triggers: list[str],
        make: Callable[[], dict[str, tuple[np.ndarray, int]]],
    ) -> None:
        """Reuse the clips of ``key`` from the cache when they are complete and intact, else ``make`` them."""
        cached = self._cached(key, checkpoint, triggers)
        if cached is not None:
            self.clips[key] = cached
            self.reused += len(cached["clips"])
        else:
            self._store(key, checkpoint, make())

    def generate(self) -> None:
        """The generated clips, one job per checkpoint (a conditioned one does all its rows in one batch)."""
        from asmr_zoo.evaluation import generate_clips

        plan = self.plan
        for entry, triggers in plan.jobs().values():

            def make(entry: Entry = entry, triggers: list[str] = triggers) -> dict[str, tuple[np.ndarray, int]]:
                self.log(f"generating {entry.id}: {', '.join(triggers)} ({plan.seconds:g} s, seed {plan.seed})")
                gen = self.model(entry)
                if len(triggers) == 1:  # exactly what `asmr-zoo run --id ID -t T --seconds S --seed N` writes
                    wav = gen.generate(triggers[0], seconds=plan.seconds, seed=plan.seed, sampler=SAMPLER)[0]
                    clips = [(triggers[0], wav)]
                else:  # generate_clips samples with SAMPLER too
                    clips = generate_clips(gen.model, triggers, 1, plan.seconds, plan.seed)
                return {t: (self.placed(wav, gen.sample_rate, t), gen.sample_rate) for t, wav in clips}

            key = _digest(entry.id, entry.sha256, triggers, plan.seconds, plan.seed, SAMPLER, *self.stereo_key())
            self._job(key, entry.id, triggers, make)

    def stereo_key(self) -> list[str]:
        """What a stereo report adds to its clips' cache keys (nothing for mono: their keys stay as they were)."""
        return [] if self.plan.pan is None else ["stereo", self.plan.pan.sha256]

    def placed(self, wav: np.ndarray, rate: int, trigger: str) -> np.ndarray:
        """A generated mono clip as the report shows it: as is, or placed by the pan prior (seeded)."""
        from asmr_zoo.pan_prior import load_pan_prior

        if self.plan.pan is None:
            return wav
        if self._pan is None:
            self._pan = load_pan_prior(self.plan.pan.checked_path(), self.plan.pan.sha256)
        return self._pan.pan(wav, rate, trigger, seed=self.plan.seed)[0]

    def real(self) -> None:
        """The first held-out clip of each row's trigger, cut to ``seconds``."""
        from asmr_zoo.audio import read_audio, to_mono

        for row in self.plan.real.values():

            def make(row: DatasetRow = row) -> dict[str, tuple[np.ndarray, int]]:
                audio, rate = read_audio(row.path)
                audio = self.real_stereo(row, audio, rate) if self.plan.pan is not None else to_mono(audio)[0]
                return {row.trigger: (audio[..., : max(1, round(self.plan.seconds * rate))], rate)}

            key = _digest("real", self.plan.fingerprint, row.video_id, row.start, self.plan.seconds, *self.stereo_key())
            self._job(key, None, [row.trigger], make)

    @staticmethod
    def real_stereo(row: DatasetRow, audio: np.ndarray, rate: int) -> np.ndarray:
        """A real clip in stereo at the training copy's ``rate``: the copy when it is stereo, else the master when
        that is (resampled), else the mono copy in both channels."""
        from asmr_zoo.audio import read_audio, resample

        if audio.shape[0] == 1 and row.master is not None:
            master, master_rate = read_audio(row.master)
            if master.shape[0] == 2:
                audio = resample(master, master_rate, rate)
        return audio if audio.shape[0] == 2 else np.repeat(audio[:1], 2, axis=0)

    def verdicts(self) -> None:
        """What a trigger classifier fitted on the data set's train split hears in each clip (with ``--data``)."""
        from asmr_zoo import generation_metrics as gm
        from asmr_zoo.audio import read_audio, to_mono
        from asmr_zoo.evaluation import audio_clips

        plan = self.plan
        if plan.data is None:
            return
        todo = [
            (trigger, clip)
            for job in self.clips.values()
            for trigger, clip in job["clips"].items()
            if clip.get("heard_as", {}).get("data") != plan.fingerprint
        ]
        if not todo:
            return
        known = {r.trigger for r in plan.train_rows}
        classifier = None
        if len(known) >= 2:
            self.log(f"fitting the trigger classifier on {len(plan.train_rows)} training clips of {plan.data}")
            classifier = gm.TriggerClassifier(audio_clips(plan.train_rows, gm.FEATURE_RATE), gm.FEATURE_RATE)
        for trigger, clip in todo:
            label = None
            if classifier is not None and trigger in known:
                wav, rate = read_audio(self.out / clip["audio"])
                label = classifier.predict(to_mono(wav)[0], rate)
            clip["heard_as"] = {"data": plan.fingerprint, "label": label}
        self.save_cache()

    def card(self, entry: Entry) -> None:
        """The model card of ``entry`` (Markdown and HTML), from the cached facts while the entry is unchanged."""
        import jinja2

        from asmr_zoo.model_card import card_facts, render_card

        raw = {k: v for k, v in entry.as_dict().items() if k not in ("registry", "weights")}
        key = _digest(entry.id, entry.sha256, raw)
        old = self.old["cards"].get(entry.id)
        pages = None
        if isinstance(old, dict) and old.get("key") == key and isinstance(old.get("facts"), dict):
            facts = old["facts"]
            try:
                pages = render_card(facts, "md"), render_card(facts, "html")
            except (jinja2.TemplateError, LookupError, TypeError, ValueError, AttributeError):
                pages = None  # facts with missing or odd fields: gather them again
        if pages is None:
            facts = card_facts(entry, self.model(entry).model)
            pages = render_card(facts, "md"), render_card(facts, "html")
        self.cards[entry.id] = {"key": key, "facts": facts}
        _write_text(self.out / "cards" / f"{entry.id}.md", pages[0])
        _write_text(self.out / "cards" / f"{entry.id}.html", pages[1])

    def figure(self, entry: Entry) -> None:
        """Figure 8 of ``entry``, when its model is conditioned on two or more triggers and has embeddings."""
        from asmr_zoo.checkpoints import read_metadata, weights_step
        from asmr_zoo.evaluation import plot_embeddings

        meta = read_metadata(entry.path)
        if not self.zoo.load("conditioners", entry.conditioner).conditioned or len(json.loads(meta["vocabulary"])) < 2:
            return
        key, step = _digest("figure", entry.id, entry.sha256), weights_step(meta)
        path = self.out / "figures" / f"{entry.id}.png"
        old = self.old["figures"].get(entry.id)
        if not (isinstance(old, dict) and old.get("key") == key and path.is_file()):
            model = self.model(entry).model
            if model.trigger_embeddings() is None:  # e.g. a per-trigger bias, nothing to place in a plane
                return
            self.log(f"plotting Figure 8 of {entry.id}")
            plot_embeddings(model, path, entry.id, step)
        self.figures[entry.id] = {"key": key, "path": path.relative_to(self.out).as_posix(), "step": step}

    def checkpoint_pages(self) -> None:
        """A model card (HTML and Markdown) per checkpoint, and Figure 8 per conditioned one."""
        for entry, _triggers in self.plan.jobs().values():
            self.card(entry)
            self.figure(entry)

    def prune(self) -> None:
        """Remove the site files this run no longer links to (from earlier runs with other options)."""
        keep = {self.out / "cards" / f"{i}.{ext}" for i in self.cards for ext in ("md", "html")}
        keep |= {self.out / f["path"] for f in self.figures.values()}
        keep |= {
            self.out / c[k] for job in self.clips.values() for c in job["clips"].values() for k in ("audio", "image")
        }
        for folder in SITE_DIRS:
            for path in (self.out / folder).glob("*"):
                if path.is_file() and path not in keep:
                    path.unlink()


def _mean(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return sum(found) / len(found) if found else None


def _median(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def _verdict(clip: dict[str, Any], trigger: str, fingerprint: str | None) -> dict[str, str] | None:
    """What the classifier of this run's data set heard in the clip (``None``: no data set, or no verdict)."""
    heard = clip.get("heard_as") or {}
    label = heard.get("label") if fingerprint is not None and heard.get("data") == fingerprint else None
    return None if label is None else _metric("heard as", label, "ok" if label == trigger else "miss")


def _metric(label: str, value: str, css: str = "") -> dict[str, str]:
    """One line under a clip; ``css`` marks a verdict as right (``ok``) or wrong (``miss``)."""
    return {"label": label, "value": value, "class": css}


def _cell(clip: dict[str, Any], trigger: str, entry: Entry | None, plan: Plan) -> dict[str, Any]:
    """One cell of the grid: the clip, its caption, and under it the registry's eval figures for a generated
    clip (held-out bits/sample, the share of eval's clips recognised), then what was measured on this clip."""
    from asmr_zoo.model_card import fmt, per_trigger

    metrics = []
    if entry is not None:
        m = per_trigger(entry.metrics, trigger)
        generation = entry.metrics.get("generation") or {}
        metrics.append(_metric("bits (unigram)", f"{fmt(m['bits'], '.2f')} ({fmt(m['unigram'], '.2f')})"))
        if m["recall"] is not None:
            tested = f"{fmt(generation.get('clips_per_trigger'))}×{fmt(generation.get('seconds'), 'g')} s"
            metrics.append(_metric("recognised", f"{fmt(m['recall'], '.0%')} of {tested}"))
    verdict = _verdict(clip, trigger, plan.fingerprint)
    metrics += [verdict] if verdict is not None else []
    metrics.append(_metric("onsets/s", fmt(clip["onset_rate"], ".1f")))
    metrics.append(_metric("flatness", fmt(clip["flatness"], ".3f")))
    if entry is None:
        row = plan.real[trigger]
        return {**clip, "real": True, "caption": f"{row.video_id} at {row.start:g} s", "card": None, "metrics": metrics}
    return {**clip, "real": False, "caption": entry.id, "card": f"cards/{entry.id}.html", "metrics": metrics}


def _summary_row(title: str, clips: list[tuple[str, dict[str, Any], Entry | None]], plan: Plan) -> dict[str, Any]:
    """One column's figures: registry means over its rows, and this report's verdicts and medians."""
    from asmr_zoo.model_card import fmt, per_trigger

    metrics = [per_trigger(e.metrics, t) for t, _c, e in clips if e is not None]
    heard = [v for v in (_verdict(c, t, plan.fingerprint) for t, c, _e in clips) if v is not None]
    return {
        "title": title,
        "checkpoints": len({e.id for _t, _c, e in clips if e is not None}) or "-",
        "bits": fmt(_mean(m["bits"] for m in metrics), ".2f"),
        "unigram": fmt(_mean(m["unigram"] for m in metrics), ".2f"),
        "recognised": fmt(_mean(m["recall"] for m in metrics), ".0%"),
        "heard": f"{sum(v['class'] == 'ok' for v in heard)}/{len(heard)}" if heard else "-",
        "onset_rate": fmt(_median(c["onset_rate"] for _t, c, _e in clips), ".1f"),
        "flatness": fmt(_median(c["flatness"] for _t, c, _e in clips), ".3f"),
    }


def page_context(site: Site) -> dict[str, Any]:
    """What ``report.html.j2`` renders: the grid, the summary per column, the figures and the cards."""
    from asmr_zoo import __version__
    from asmr_zoo.model_card import fmt

    plan = site.plan
    clips = {(job["checkpoint"], t): clip for job in site.clips.values() for t, clip in job["clips"].items()}
    columns: list[tuple[str, dict[str, Entry | None]]] = [(c.title, dict(c.cells)) for c in plan.columns]
    if plan.data is not None:  # the real held-out clips come first; their cells have no checkpoint
        columns.insert(0, (REAL_TITLE, dict.fromkeys(plan.real)))
    rows = []
    for trigger in plan.triggers:
        cells = []
        for _title, cell_entries in columns:
            if trigger not in cell_entries:
                cells.append(None)
                continue
            entry = cell_entries[trigger]
            cells.append(_cell(clips[(entry.id if entry else None, trigger)], trigger, entry, plan))
        rows.append({"trigger": trigger, "cells": cells})
    summary = [
        _summary_row(title, [(t, clips[(e.id if e else None, t)], e) for t, e in cell_entries.items()], plan)
        for title, cell_entries in columns
    ]
    return {
        "version": __version__,
        "plan": plan,
        "seconds": fmt(plan.seconds, "g"),
        "pan": None if plan.pan is None else plan.pan.id,
        "fingerprint": (plan.fingerprint or "")[:12],
        "headers": [{"title": title, "real": title == REAL_TITLE} for title, _ in columns],
        "rows": rows,
        "summary": summary,
        "figures": [{"id": i, **f} for i, f in site.figures.items()],
        "cards": [{"id": i, "html": f"cards/{i}.html", "md": f"cards/{i}.md"} for i in sorted(site.cards)],
    }


def build_report(plan: Plan, out: Path, log: Log = lambda text: None) -> dict[str, int]:
    """Write (or bring up to date) the site of ``plan`` in ``out``; returns what it generated and reused."""
    from asmr_zoo.model_card import templates

    check_out(out)
    for folder in (out, *(out / f for f in SITE_DIRS)):
        folder.mkdir(exist_ok=True)
    site = Site(plan, out, log)
    site.save_cache()  # at once: the folder of a run that fails or is killed from here on is resumed, not refused
    site.real()
    site.generate()
    site.verdicts()
    site.checkpoint_pages()
    html = templates().get_template("report.html.j2").render(**page_context(site))
    _write_text(out / "index.html", html)
    site.save_cache(final=True)
    site.prune()
    return {
        "generated": site.generated,
        "reused": site.reused,
        "checkpoints": len(site.cards),
        "figures": len(site.figures),
    }
