"""Scores from FastChat-format judgment files: win / loss / tie, win_rate and win_rate_adjusted as
fastchat/llm_judge/show_result.py defines them, per category and per turn, position consistency and
a 95% interval (`tunebench.stats.proportion_ci`: the bootstrap's, never narrower than Wilson's, so six
games all won do not read [1.0, 1.0]); single-mode average scores. Writes results.json, results.md and
plots.

FastChat's rules (show_result.py): a row with an error in either game is dropped (counted here); a
tie when either game says tie or the two games disagree (the conservative rule);
win_rate = win / (win + loss + tie); win_rate_adjusted = (win + 0.5 * tie) / (win + loss + tie).
"""

from __future__ import annotations

import json
from pathlib import Path

from tunebench.data.jsonl import read_jsonl
from tunebench.evaluate.mt_bench.data import API_ERROR_OUTPUT
from tunebench.runs.atomic_io import atomic_write_text
from tunebench.stats import proportion_ci

SCORE_RANGE = (1.0, 10.0)  # FastChat's single-answer ratings
SMOKE_BANNER = (
    "> **SMOKE RUN** — the served model answered and judged itself (the tiny model, or a model as small "
    "as SmolLM2-135M). These numbers test the plumbing only; most verdicts are unparseable and count as "
    "errors. They say nothing about quality."
)


def _rates(outcomes: list[float], errors: int, consistent: int) -> dict:
    win, loss = outcomes.count(1.0), outcomes.count(0.0)
    tie = len(outcomes) - win - loss
    n = len(outcomes)
    return {
        "win": win,
        "loss": loss,
        "tie": tie,
        "errors": errors,
        "win_rate": round(win / n, 4) if n else None,
        "loss_rate": round(loss / n, 4) if n else None,
        "win_rate_adjusted": round((win + 0.5 * tie) / n, 4) if n else None,
        "ci95_win_rate_adjusted": proportion_ci(outcomes),
        "position_consistency": round(consistent / n, 4) if n else None,
    }


def pairwise_results(rows: list[dict], questions: dict[int, dict], baseline: str | None = None) -> dict:
    """Per model (the baseline left out, as show_result does), overall, per turn and per category."""
    if baseline:
        rows = [r for r in rows if baseline in (r["model_1"], r["model_2"])]
    # (model, scope) -> outcomes for that model, error rows, position-consistent rows
    acc: dict[tuple[str, str], dict] = {}

    def bucket(model: str, scope: str) -> dict:
        return acc.setdefault((model, scope), {"outcomes": [], "errors": 0, "consistent": 0})

    inconsistent = total = 0
    for r in rows:
        cat = questions.get(r["question_id"], {}).get("category", "unknown")
        scopes = ("all", f"turn:{r['turn']}", f"category:{cat}")
        g1, g2 = r["g1_winner"], r["g2_winner"]
        if g1 == "error" or g2 == "error":
            for m in (r["model_1"], r["model_2"]):
                for s in scopes:
                    bucket(m, s)["errors"] += 1
            continue
        total += 1
        inconsistent += int(g1 != g2)
        if g1 == "tie" or g1 != g2:
            result = {r["model_1"]: 0.5, r["model_2"]: 0.5}
        else:
            w = r["model_1"] if g1 == "model_1" else r["model_2"]
            result = {m: (1.0 if m == w else 0.0) for m in (r["model_1"], r["model_2"])}
        for m, outcome in result.items():
            for s in scopes:
                b = bucket(m, s)
                b["outcomes"].append(outcome)
                b["consistent"] += int(g1 == g2)

    models: dict[str, dict] = {}
    for (m, scope), b in sorted(acc.items()):
        if m == baseline:
            continue
        entry = models.setdefault(m, {"by_turn": {}, "by_category": {}})
        stats = _rates(b["outcomes"], b["errors"], b["consistent"])
        if scope == "all":
            entry.update(stats)
        else:
            kind, name = scope.split(":", 1)
            entry["by_turn" if kind == "turn" else "by_category"][name] = stats
    return {
        "models": models,
        "rows": len(rows),
        "error_rows": len(rows) - total,
        "position_inconsistent_rows": inconsistent,
        "position_consistency": round(1 - inconsistent / total, 4) if total else None,
    }


def single_results(rows: list[dict], questions: dict[int, dict]) -> dict:
    acc: dict[tuple[str, str], dict] = {}
    for r in rows:
        cat = questions.get(r["question_id"], {}).get("category", "unknown")
        for scope in ("all", f"turn:{r['turn']}", f"category:{cat}"):
            b = acc.setdefault((r["model"], scope), {"scores": [], "errors": 0})
            if r["score"] == -1:
                b["errors"] += 1
            else:
                b["scores"].append(float(r["score"]))
    models: dict[str, dict] = {}
    for (m, scope), b in sorted(acc.items()):
        s = b["scores"]
        stats = {
            "score": round(sum(s) / len(s), 4) if s else None,
            "n": len(s),
            "errors": b["errors"],
            "ci95_score": proportion_ci(s, low=SCORE_RANGE[0], high=SCORE_RANGE[1]),
        }
        entry = models.setdefault(m, {"by_turn": {}, "by_category": {}})
        if scope == "all":
            entry.update(stats)
        else:
            kind, name = scope.split(":", 1)
            entry["by_turn" if kind == "turn" else "by_category"][name] = stats
    errors = sum(1 for r in rows if r["score"] == -1)
    return {"models": models, "rows": len(rows), "error_rows": errors}


def _usage(rows: list[dict], pairwise: bool) -> dict:
    tot = {"prompt_tokens": 0, "completion_tokens": 0}
    api_errors = 0
    for r in rows:
        for p in ("g1_", "g2_") if pairwise else ("",):
            u = r.get(p + "usage") or {}
            for k in tot:
                tot[k] += u.get(k) or 0
            api_errors += int(r.get(p + "judgment") == API_ERROR_OUTPUT)
    return {**tot, "api_error_games": api_errors}


def compute_results(
    judgment_path: Path,
    questions: list[dict],
    *,
    mode: str,
    baseline: str | None = None,
    models: list[str] | None = None,
    smoke: bool = False,
    answer_dir: Path | None = None,
    changed=None,
) -> dict:
    """FastChat's numbers from the judgment file; with `answer_dir`, length and position beside them.
    Rows judged on answers that have changed since (`changed(row)`: those models) are left out and
    counted, never reported as current."""
    pairwise = mode != "single"
    rows = read_jsonl(judgment_path)
    if models:
        key = "model_1" if pairwise else "model"
        rows = [r for r in rows if r[key] in models]  # show_result.py filters on model_1 only
    qmap = {q["question_id"]: q for q in questions}
    rows = [r for r in rows if r["question_id"] in qmap]  # e.g. a --first-n run over a fuller file
    stale_models: set[str] = set()
    current = []
    for r in rows:
        gone = changed(r) if changed is not None else set()
        stale_models |= gone
        if not gone:
            current.append(r)
    stale_rows, rows = len(rows) - len(current), current
    body = (
        pairwise_results(rows, qmap, baseline if mode == "pairwise-baseline" else None)
        if pairwise
        else (single_results(rows, qmap))
    )
    if pairwise and answer_dir is not None:
        from tunebench.evaluate.mt_bench.data import load_answers
        from tunebench.evaluate.mt_bench.length_position import length_and_position, opponent_lengths

        ids = {m for r in rows for m in (r["model_1"], r["model_2"])}
        answers = {
            m: load_answers(answer_dir / f"{m}.jsonl") for m in ids if (answer_dir / f"{m}.jsonl").exists()
        }
        extra = length_and_position(rows, answers, baseline if mode == "pairwise-baseline" else None)
        for m, entry in extra.items():
            body["models"].setdefault(m, {"by_turn": {}, "by_category": {}})["length_position"] = entry
        body["mean_length_chars"] = opponent_lengths(rows, answers)
    judges = sorted({r["judge"][0] for r in rows})
    return {
        "smoke": smoke,
        "mode": mode,
        "judge": judges[0] if len(judges) == 1 else judges,
        "baseline": baseline if mode == "pairwise-baseline" else None,
        "judgment_file": str(judgment_path),
        "questions": len(questions),
        "judge_usage": _usage(rows, pairwise),
        "stale_rows": stale_rows,
        "stale_models": sorted(stale_models),
        **body,
    }


def _fmt(x) -> str:
    if x is None:
        return "–"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _ci(ci, digits: int = 3) -> str:
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "–"


def _length_position_table(res: dict) -> list[str]:
    rows = [(m, s["length_position"]) for m, s in res["models"].items() if "length_position" in s]
    if not rows:
        return []
    out = [
        "",
        "Beside FastChat's numbers (not in FastChat; 95% intervals): answer length in characters, "
        "position consistency (share of pairs whose two orders agree) and the length-controlled win rate "
        "(logistic regression of the outcome on the length difference, read at zero difference; no "
        "value when length alone predicts every outcome, no interval under 100 games).",
        "",
        "| model | mean length | 95% CI | position-consistent | 95% CI | length-controlled win rate | 95% CI |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for m, e in rows:
        out.append(
            f"| {m} | {_fmt(e['mean_length_chars'])} | {_ci(e['ci95_mean_length_chars'], 1)} | "
            f"{_fmt(e['position_consistency'])} | {_ci(e['ci95_position_consistency'])} | "
            f"{_fmt(e['length_controlled_win_rate'])} | {_ci(e['ci95_length_controlled_win_rate'])} |"
        )
        if e.get("length_controlled_note"):
            notes.append(f"{m}: {e['length_controlled_note']}")
    if notes:
        out += ["", "Length-controlled win rate: " + "; ".join(notes) + "."]
    lengths = res.get("mean_length_chars") or {}
    if lengths:
        out += [
            "",
            "Mean answer length of every model judged: " + ", ".join(f"{m} {n}" for m, n in lengths.items()),
        ]
    return out


def render_markdown(res: dict, plots: list[str]) -> str:
    out = ["# MT-Bench results", ""]
    if res["smoke"]:
        out += [SMOKE_BANNER, ""]
    out.append(f"Mode `{res['mode']}`, judge `{res['judge']}`, {res['questions']} questions")
    if res.get("baseline"):
        out[-1] += f", baseline `{res['baseline']}`"
    out += ["", f"Judgment file: `{res['judgment_file']}` (FastChat format).", ""]
    if res.get("stale_rows"):
        out += [
            f"> **{res['stale_rows']} judgment(s) left out**: made on answers of "
            f"{', '.join(res['stale_models'])} that have changed since. Run `judge` again to judge the "
            "current answers.",
            "",
        ]
    models = res["models"]
    if res["mode"] == "single":
        out += ["| model | score | 95% CI | turn 1 | turn 2 | errors |", "|---|---|---|---|---|---|"]
        for m, s in sorted(models.items(), key=lambda kv: -(kv[1].get("score") or 0)):
            t = s["by_turn"]
            out.append(
                f"| {m} | {_fmt(s['score'])} | {_ci(s['ci95_score'])} | {_fmt(t.get('1', {}).get('score'))} "
                f"| {_fmt(t.get('2', {}).get('score'))} | {s['errors']} |"
            )
        metric = "score"
    else:
        out += [
            "| model | win | loss | tie | win_rate | win_rate_adjusted | 95% CI | position-consistent | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for m, s in sorted(models.items(), key=lambda kv: -(kv[1].get("win_rate_adjusted") or 0)):
            out.append(
                f"| {m} | {s['win']} | {s['loss']} | {s['tie']} | {_fmt(s['win_rate'])} | "
                f"{_fmt(s['win_rate_adjusted'])} | {_ci(s['ci95_win_rate_adjusted'])} | "
                f"{_fmt(s['position_consistency'])} | {s['errors']} |"
            )
        out += [
            "",
            f"Rows dropped for an error in either game: {res['error_rows']} of {res['rows']}. "
            f"Position-inconsistent pairs (counted as ties): {res['position_inconsistent_rows']}.",
        ]
        out += _length_position_table(res)
        metric = "win_rate_adjusted"
    for scope, title in (("by_turn", "turn"), ("by_category", "category")):
        names = sorted({k for s in models.values() for k in s[scope]})
        out += ["", f"## {metric} per {title}", "", "| model | " + " | ".join(names) + " |"]
        out.append("|---" * (len(names) + 1) + "|")
        for m, s in models.items():
            out.append(f"| {m} | " + " | ".join(_fmt(s[scope].get(n, {}).get(metric)) for n in names) + " |")
    u = res["judge_usage"]
    out += [
        "",
        f"Judge tokens recorded: {u['prompt_tokens']} prompt, {u['completion_tokens']} completion; "
        f"games without a judgment (API errors): {u['api_error_games']}.",
    ]
    out += [""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(out) + "\n"


def write_results(res: dict, out_dir: Path) -> dict[str, Path]:
    from tunebench.evaluate.mt_bench.plots import make_plots

    out_dir = Path(out_dir)
    plots = make_plots(res, out_dir)
    atomic_write_text(
        out_dir / "results.json", json.dumps({**res, "plots": [str(p) for p in plots]}, indent=2)
    )
    atomic_write_text(out_dir / "results.md", render_markdown(res, [str(p) for p in plots]))
    return {"json": out_dir / "results.json", "md": out_dir / "results.md", **{p.stem: p for p in plots}}
