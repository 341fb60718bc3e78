"""The embedded default: a tiny model and a text-to-SQL dataset that tunebench builds itself,
so the whole chain runs on a CPU with no network."""

from __future__ import annotations


def build_embedded(seed: int = 0, force: bool = False):
    """Build (or find, when the same build exists) data/text2sql/ and models/tiny-base/.

    Returns (dataset folder, model folder)."""
    from tunebench.embedded.sqlgen import build_sql_dataset
    from tunebench.embedded.tiny_model import build_tiny_base
    from tunebench.runs.paths import embedded_sql_dir, tiny_base_dir

    data = build_sql_dataset(embedded_sql_dir(), seed=seed, force=force)
    model = build_tiny_base(tiny_base_dir(), data, seed=seed, force=force)
    return data, model
