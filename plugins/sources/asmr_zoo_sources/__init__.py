"""Built-in data sources: YouTube timestamps, folders, YouTube-ASMR-300K manifests, a synthetic corpus."""
