"""Build the embedded text-to-SQL dataset: populated SQLite databases + seeded, disjoint splits.

    data/text2sql/databases/<db_id>.sqlite
    data/text2sql/train.jsonl, test.jsonl   {id, db_id, db_path, schema, question, query,
                                             difficulty, template, seen_combo}
    data/text2sql/dataset_info.json         seed, sizes, held-out template x table combinations

`db_path` is relative to the dataset folder so the folder can move (containers mount it elsewhere).
Besides held-out questions, some (template, table) combinations appear only in the test split:
they measure generalisation rather than recall (`seen_combo: false`).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from tunebench.embedded.databases import DATABASES, build_database
from tunebench.embedded.questions import TEMPLATES

FORMAT_VERSION = 2


def _combo_key(template, db, table) -> str:
    return (
        f"{template.name}@{db.db_id}"
        if template.scope == "join"
        else f"{template.name}@{db.db_id}.{table.name}"
    )


def generate_questions(data_by_db: dict, seed: int, per_combo: int = 40) -> dict[str, list[dict]]:
    """Unique (question, query) pairs for every template x table combination."""
    rng = random.Random(seed)
    combos: dict[str, list[dict]] = {}
    for db in DATABASES:
        for tmpl in TEMPLATES:
            tables = [db.child] if tmpl.scope == "join" else list(db.tables)
            for table in tables:
                seen, items = set(), []
                for _ in range(per_combo * 8):
                    made = tmpl.make(db, table, data_by_db[db.db_id], rng)
                    if made is None:
                        break
                    if made[0] in seen:
                        continue
                    seen.add(made[0])
                    items.append(
                        {
                            "db_id": db.db_id,
                            "schema": db.schema(),
                            "question": made[0],
                            "query": made[1],
                            "difficulty": tmpl.difficulty,
                            "template": tmpl.name,
                        }
                    )
                    if len(items) >= per_combo:
                        break
                if items:
                    combos[_combo_key(tmpl, db, table)] = items
    return combos


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)


def build_sql_dataset(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_train: int = 2000,
    n_test: int = 200,
    unseen_fraction: float = 0.2,
    heldout_combo_share: float = 0.08,
    force: bool = False,
) -> Path:
    """Create (or reuse, when built with the same settings) the dataset folder; returns it."""
    out = Path(out_dir)
    settings = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "unseen_fraction": unseen_fraction,
        "heldout_combo_share": heldout_combo_share,
    }
    info_path = out / "dataset_info.json"
    if not force and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("settings") == settings:
            return out
    (out / "databases").mkdir(parents=True, exist_ok=True)
    data_by_db = {}
    for db in DATABASES:
        data_by_db[db.db_id] = build_database(db, out / "databases" / f"{db.db_id}.sqlite", seed)
    combos = generate_questions(data_by_db, seed)
    rng = random.Random(seed + 1)
    keys = sorted(combos)
    heldout = set(rng.sample(keys, max(1, round(len(keys) * heldout_combo_share))))
    seen_pool = [dict(q, seen_combo=True) for k in keys if k not in heldout for q in combos[k]]
    unseen_pool = [dict(q, seen_combo=False) for k in sorted(heldout) for q in combos[k]]
    rng.shuffle(seen_pool)
    rng.shuffle(unseen_pool)
    n_unseen = min(len(unseen_pool), round(n_test * unseen_fraction))
    test = unseen_pool[:n_unseen] + seen_pool[: n_test - n_unseen]
    train = seen_pool[n_test - n_unseen :][:n_train]
    if len(train) < n_train:
        raise ValueError(f"only {len(train)} training questions can be generated (asked for {n_train})")
    for split, rows in (("train", train), ("test", test)):
        for i, r in enumerate(rows):
            r["id"] = f"{split}-{i:05d}"
            r["db_path"] = f"databases/{r['db_id']}.sqlite"
        _write_jsonl(out / f"{split}.jsonl", rows)
    info = {
        "settings": settings,
        "databases": [db.db_id for db in DATABASES],
        "train": len(train),
        "test": len(test),
        "test_unseen_combos": n_unseen,
        "heldout_combos": sorted(heldout),
    }
    tmp = info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, info_path)
    return out


def load_split(dataset_dir: str | Path, split: str) -> list[dict]:
    """Rows of one split with `db_path` made absolute."""
    root = Path(dataset_dir)
    with open(root / f"{split}.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in rows:
        r["db_path"] = str((root / r["db_path"]).resolve())
    return rows
