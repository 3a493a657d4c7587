"""Evidence highlighting: escaped text, one <mark> per covered segment, colours and finding links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from test_queue import NOTE, make_report

from reviewer.highlight import SUPPORTS, Span, finding_hover_css, highlight_html, legend_html, report_spans


class _Marks(HTMLParser):
    """The text and attributes of every <mark>, and all text, as a browser would read them."""

    def __init__(self):
        super().__init__()
        self.marks: list[tuple[dict, str]] = []
        self.text = ""
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self._open = dict(attrs)
            self.marks.append((self._open, ""))
        elif tag != "div":
            raise AssertionError(f"unexpected <{tag}> in highlighted note")

    def handle_endtag(self, tag):
        if tag == "mark":
            self._open = None

    def handle_data(self, data):
        self.text += data
        if self._open is not None:
            attrs, text = self.marks[-1]
            self.marks[-1] = (attrs, text + data)


def parse(markup: str) -> _Marks:
    parser = _Marks()
    parser.feed(markup)
    return parser


def test_text_is_escaped_and_survives_unchanged():
    text = 'Pt said "<script>alert(1)</script>" & left\nBilling: 97530 x2'
    spans = [Span(0, 2, "goal"), Span(45, len(text), "billing")]
    markup = highlight_html(text, spans)
    assert "<script>" not in markup
    assert parse(markup).text == text


def test_each_span_is_marked_with_its_colour_and_supports():
    text = "Goal: walk 100 ft. Billing: 97530 x1"
    marks = parse(highlight_html(text, [Span(0, 17, "goal"), Span(19, 36, "billing")])).marks
    assert [(m["data-supports"], body) for m, body in marks] == [
        ("goal", "Goal: walk 100 ft"),
        ("billing", "Billing: 97530 x1"),
    ]
    assert SUPPORTS["goal"][1] in marks[0][0]["style"]
    assert marks[0][0]["class"] == "ev-goal"


def test_overlapping_spans_split_into_segments_carrying_both():
    text = "0123456789"
    marks = parse(highlight_html(text, [Span(0, 6, "activity"), Span(4, 10, "minutes", frozenset({2}))])).marks
    assert [(body, m["data-supports"], m["data-findings"]) for m, body in marks] == [
        ("0123", "activity", ""),
        ("45", "activity minutes", "2"),
        ("6789", "minutes", "2"),
    ]
    assert "finding #2" in marks[1][0]["title"]


def test_unknown_supports_and_out_of_range_spans_are_safe():
    text = "short note"
    markup = highlight_html(text, [Span(0, 5, "other"), Span(6, 500, "other"), Span(50, 60, "other")])
    marks = parse(markup).marks
    assert [body for _, body in marks] == ["short", "note"]
    assert parse(markup).text == text


def test_focus_outlines_only_the_chosen_findings_spans():
    text = "aaaa bbbb"
    spans = [Span(0, 4, "goal", frozenset({1})), Span(5, 9, "billing", frozenset({2}))]
    markup = highlight_html(text, spans, focus=2)
    assert markup.startswith('<div class="note-text has-focus">')
    marks = parse(markup).marks
    assert [m["class"] for m, _ in marks] == ["ev-goal", "ev-billing focus"]


def test_report_spans_join_extraction_evidence_with_the_findings_citing_it():
    report = make_report("n1")
    spans = report_spans(report)
    billing = next(s for s in spans if s.supports == "billing")
    activity = next(s for s in spans if s.supports == "activity")
    assert (NOTE[billing.start : billing.end], billing.findings) == ("Billing: 97530-GP x2", frozenset({1}))
    assert activity.findings == frozenset({2})
    assert len(spans) == 2  # the same span cited by the extraction and a finding is marked once


def test_unverified_evidence_is_not_highlighted():
    report = make_report("n1")
    report.findings[0].evidence[0].start = None
    report.extraction.billing[0].evidence = None
    assert {s.supports for s in report_spans(report)} == {"activity"}


def test_legend_lists_only_the_categories_shown():
    legend = legend_html([Span(0, 1, "goal"), Span(2, 3, "skill")])
    assert re.findall(r">([^<]+)</span>", legend) == ["goal", "skilled justification"]


def test_hover_css_links_each_finding_to_its_spans():
    css = finding_hover_css(2)
    assert 'body:has([data-finding="2"]:hover) .note-text mark[data-findings~="2"]' in css
    assert '"3"' not in css


def test_printable_report_holds_findings_units_and_the_marked_note():
    from reviewer.report_html import render_report_html

    report = make_report("<n1>")
    page = render_report_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;n1&gt;" in page and "<n1>" not in page
    assert "UNIT001" in page and "Bill 97530 x1" in page and "Pub. 100-04 Ch. 5 §20.2" in page
    assert "<th>At risk</th>" in page
    assert page.count("<mark ") == 2
    assert "@media print" in page


def test_printable_report_of_a_failed_review_says_it_is_not_cleared():
    from reviewer.report_html import render_report_html

    failed = make_report("n1", findings=0).model_copy(update={"status": "failed", "error": "model timed out"})
    page = render_report_html(failed)
    assert "Review failed: model timed out" in page and "NOT cleared" in page
    assert "<h2>Findings</h2>" not in page
