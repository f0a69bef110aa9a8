"""Registers the built-in data sources (lazily: listing them imports neither numpy nor yt-dlp) and the
``asmr-zoo data`` command group."""

from asmr_zoo import hookimpl


@hookimpl
def register_sources(register):
    register(
        "youtube",
        "asmr_zoo_sources.youtube:YouTubeSource",
        "timestamps in chapters, descriptions or comments of videos (yt-dlp)",
    )
    register("folder", "asmr_zoo_sources.folder:FolderSource", "audio files in <dir>/<trigger>/ folders")
    register(
        "manifest",
        "asmr_zoo_sources.manifest_source:ManifestSource",
        "CSV rows video_id, start, end[, label] (YouTube-ASMR-300K style)",
    )
    register(
        "synthetic",
        "asmr_zoo_sources.synthetic:SyntheticSource",
        "procedural, license-free recordings of the common triggers (tests, demo checkpoints)",
    )


@hookimpl
def register_commands(app):
    from asmr_zoo_sources.cli import data_app

    app.add_typer(data_app, name="data")
