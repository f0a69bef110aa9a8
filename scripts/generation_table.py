"""Print the README's generation table from the metrics `scripts/make_checkpoints.py` recorded in registry.yaml.

    python scripts/generation_table.py

Per shipped model/conditioner: the clips generated per trigger, the share of generated clips the trigger
classifier recognises as the asked trigger (pooled over the 11 per-trigger files for unconditioned models), the
lowest recall of a trigger, the share of 10 s clips that collapse to silence, and the tapping triggers' median
onset rate against real.
"""

from __future__ import annotations

from collections import defaultdict

from asmr_zoo.registry import load_registry

TAPPING = ("tapping_glass", "tapping_plastic", "tapping_wood", "tapping_metal")


def main() -> None:
    groups: dict[str, list] = defaultdict(list)
    for entry in load_registry().entries.values():
        if entry.source.name == "registry.yaml" and "generation" in entry.metrics:
            # per-trigger files (wavenet-none-tapping-glass, ...) pool under their recipe's name
            recipe = entry.id.removesuffix("-" + entry.triggers[0].replace("_", "-"))
            groups[recipe].append(entry)
    print("| model | clips | recognised | lowest recall | collapsed (10 s) | tapping onsets/s (generated) |")
    print("|---|---:|---:|---:|---:|---|")
    for recipe, entries in groups.items():
        name = recipe if len(entries) == 1 else f"{recipe} ({len(entries)} files)"
        recalls = {t: r for e in entries for t, r in e.metrics["generation"]["recall"].items()}
        onsets = {t: r for e in entries for t, r in e.metrics["generation"]["onset_rate"].items()}
        collapsed = [e.metrics["generation"]["collapsed"] for e in entries]
        tapping = ", ".join(f"{t.split('_')[1]} {onsets[t]:.1f}" for t in TAPPING if t in onsets)
        clips = entries[0].metrics["generation"]["clips_per_trigger"]
        print(
            f"| {name} | {clips} | {sum(recalls.values()) / len(recalls):.1%} | {min(recalls.values()):.0%} "
            f"| {sum(collapsed) / len(collapsed):.0%} | {tapping} |"
        )


if __name__ == "__main__":
    main()
