"""The front doors as a user types them: `make help` grouped by stage, `make merge` finding RECIPE's
run, `make test-fast` leaving out what trains. `make -n` prints the commands without running them."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

GROUPS = ["setup", "train", "evaluate", "serve", "containers", "benchmarks"]


def make(*args: str) -> str:
    proc = subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_groups_every_target_by_stage_in_aligned_columns():
    text = make("-s", "help")
    headings = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings == GROUPS
    rows = [line for line in text.splitlines() if line.startswith("  ")]
    columns = {re.match(r"  \S+\s+", row).end() for row in rows}
    assert len(columns) == 1  # every description starts in the same column
    section = {h: text.split(f"\n{h}\n")[-1].split("\n\n")[0] for h in GROUPS[1:]}
    assert "  train " in section["train"] and "  merge " in section["train"]
    assert "  eval-sql " in section["evaluate"] and "  docker-build " in section["containers"]
    assert "  bench " in section["benchmarks"] and "  bench-generation " in section["benchmarks"]
    # every `## `-commented target of every makefile is listed once
    documented = subprocess.run(
        "grep -hoE '^[a-zA-Z0-9_.-]+:.*## ' Makefile mk/*.mk | cut -d: -f1", shell=True, cwd=REPO,
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    listed = [row.split()[0] for row in rows]
    assert sorted(listed) == sorted(documented)


def test_merge_finds_the_adapter_of_recipes_run_by_default():
    default = make("-n", "merge").splitlines()[-1].rstrip()
    assert default.endswith("-m tunebench.train.merge models/tiny-text-to-sql/adapter")
    other = make("-n", "merge", "RECIPE=recipes/codellama-7b-text-to-sql.yaml").splitlines()[-1].rstrip()
    assert other.endswith("-m tunebench.train.merge models/codellama-7b-text-to-sql/adapter")
    explicit = make("-n", "merge", "ADAPTER=models/x/adapter").splitlines()[-1].rstrip()
    assert explicit.endswith("-m tunebench.train.merge models/x/adapter")
    original = make("-n", "merge", "MERGE_ARGS=--merge-base original").splitlines()[-1].rstrip()
    assert original.endswith("-m tunebench.train.merge models/tiny-text-to-sql/adapter --merge-base original")


def test_fast_tier_leaves_out_the_slow_marker():
    assert make("-n", "test-fast").splitlines()[-1].endswith('-m pytest -m "not slow" ')
