"""What the page shows of text and values nobody here wrote: quoted as typed, never markup; blobs as
hex; a chart only for one number per label."""

from __future__ import annotations

import html.parser

import pytest

from tunebench.serve.app import health_html, status_html
from tunebench.serve.health import Health
from tunebench.serve.question import DONE, ERROR, WAITING, Step
from tunebench.serve.render import chart_columns, display_value, human_size

HOSTILE = (
    '<b>bold</b> `tick` & *star* _under_ <img src=x onerror="alert(1)"><a href="javascript:x()">l</a> $$x$$'
)


class Parsed(html.parser.HTMLParser):
    """The elements and the text a browser would build from an HTML string."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text += data


@pytest.mark.parametrize("state, label", [(ERROR, "Error:"), (DONE, "Done:"), (WAITING, "Queued:")])
def test_status_quotes_the_message_as_typed(state, label):
    parsed = Parsed(status_html(Step(state, f"the schema may not be {HOSTILE}")))
    assert parsed.tags == ["p", "strong"]  # the page's own label, nothing of the message
    assert parsed.text == f"{label} the schema may not be {HOSTILE}"  # backticks and all


def test_health_quotes_what_the_server_said():
    parsed = Parsed(health_html(Health("m<i>", "http://x/v1", False, f"answered HTTP 500: {HOSTILE}")))
    assert parsed.tags == ["p", "strong", "strong"]
    assert parsed.text == f"Model m<i> · http://x/v1 · not reachable: answered HTTP 500: {HOSTILE}"


def test_values_as_a_person_reads_them():
    assert display_value(b"\x00\xff") == "X'00FF'"
    assert display_value(bytes(range(20))) == "X'000102030405060708090A0B0C0D0E0F…' (20 bytes)"
    assert [display_value(v) for v in (float("inf"), float("-inf"), float("nan"))] == [
        "Infinity",
        "-Infinity",
        "NaN",
    ]
    assert [display_value(v) for v in (1, 2.5, "x", None)] == [1, 2.5, "x", None]
    assert [human_size(n) for n in (512, 256 << 10, 3 << 20, (3 << 20) + (1 << 19))] == [
        "512 bytes",
        "256 KiB",
        "3 MiB",
        "3.5 MiB",
    ]


@pytest.mark.parametrize(
    "columns, rows, chart",
    [
        (["grade", "n"], [["a", 1], ["b", 2]], ("grade", "n")),
        (["n", "grade"], [[1, "a"], [2.5, "b"]], ("grade", "n")),
        (["grade", "n"], [["a", 1]], None),  # one row: nothing to compare
        (["a", "b"], [["x", "y"], ["z", "w"]], None),  # no numbers
        (["a", "b"], [[1, 2], [3, 4]], None),  # no labels
        (["grade", "ok"], [["a", True], ["b", False]], None),  # booleans are no quantities
        (["grade", "n", "m"], [["a", 1, 2], ["b", 2, 3]], None),
        (["grade", "n"], [["a", 1], ["b", None]], None),
    ],
)
def test_a_chart_only_for_one_number_per_label(columns, rows, chart):
    assert chart_columns(columns, rows) == chart
