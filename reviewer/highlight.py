"""The note as HTML with every evidence span marked, coloured by what it supports.

Pure functions of the report, so the UI, the printable report and the tests show the same thing.
Note text is always escaped; overlapping spans are split into segments, each marked with every
span and finding that covers it (`data-supports`, `data-findings` hold 1-based finding numbers).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from itertools import pairwise

from reviewer.report import NoteReport
from reviewer.schema import Evidence

# What a span supports -> (label, colour). "other" colours anything the extraction adds later.
SUPPORTS: dict[str, tuple[str, str]] = {
    "goal": ("goal", "#c8e6c9"),
    "activity": ("activity", "#bbdefb"),
    "minutes": ("minutes", "#ffe0b2"),
    "skill": ("skilled justification", "#e1bee7"),
    "response": ("patient response", "#b2ebf2"),
    "billing": ("billing", "#ffcdd2"),
    "signature": ("signature", "#d7ccc8"),
    "date": ("date of service", "#e0e0e0"),
    "assistant": ("assistant", "#f0f4c3"),
    "outcome": ("outcome measure", "#dcedc8"),
    "subjective": ("patient's report", "#f8bbd0"),
    "objective": ("observed or measured", "#c5cae9"),
    "assessment": ("assessment", "#b2dfdb"),
    "plan": ("plan", "#ffecb3"),
    "document": ("document type", "#cfd8dc"),
    "instruction": ("text addressed to the reader (ignored)", "#ff8a80"),
    "other": ("other", "#fff59d"),
}

HIGHLIGHT_CSS = """
.note-text { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 0.85rem; line-height: 1.5; border: 1px solid #ddd; border-radius: 6px; padding: 0.75rem; }
.note-text mark { color: inherit; border-radius: 3px; padding: 0 1px; }
.note-text.has-focus mark { opacity: 0.35; }
.note-text.has-focus mark.focus { opacity: 1; outline: 2px solid #d32f2f; }
.supports-legend span { display: inline-block; margin: 0 0.4rem 0.3rem 0; padding: 0 0.4rem; border-radius: 3px;
  font-size: 0.8rem; }
"""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    supports: str
    findings: frozenset[int] = frozenset()  # 1-based numbers of the findings citing this span


def category(supports: str) -> str:
    return supports if supports in SUPPORTS else "other"


def report_spans(report: NoteReport) -> list[Span]:
    """Every verified evidence span of the extraction and of the findings (numbered from 1)."""
    spans: dict[tuple[int, int, str], set[int]] = {}

    def add(evidence: Evidence, finding: int | None = None) -> None:
        if not evidence.verified or evidence.start is None or evidence.end is None or evidence.end <= evidence.start:
            return
        cited_by = spans.setdefault((evidence.start, evidence.end, category(evidence.supports)), set())
        if finding is not None:
            cited_by.add(finding)

    if report.extraction is not None:
        for evidence in report.extraction.all_evidence():
            add(evidence)
    for number, finding in enumerate(report.findings, start=1):
        for evidence in finding.evidence:
            add(evidence, number)
    return [Span(start, end, supports, frozenset(found)) for (start, end, supports), found in sorted(spans.items())]


def highlight_html(text: str, spans: list[Span], focus: int | None = None) -> str:
    """`text` escaped inside a <div class="note-text">, each covered segment in a <mark>.

    `focus` (a finding number) outlines that finding's spans and dims the rest.
    """
    size = len(text)
    usable = [s for s in spans if 0 <= s.start < s.end and s.start < size]
    cuts = sorted({0, size} | {s.start for s in usable} | {min(s.end, size) for s in usable})
    parts: list[str] = []
    for left, right in pairwise(cuts):
        segment = html.escape(text[left:right])
        covering = [s for s in usable if s.start <= left and right <= s.end]
        parts.append(_mark(segment, covering, focus) if covering else segment)
    classes = "note-text has-focus" if focus is not None else "note-text"
    return f'<div class="{classes}">{"".join(parts)}</div>'


def legend_html(spans: list[Span] | None = None) -> str:
    """The colour key, limited to the categories present in `spans` when given."""
    present = {s.supports for s in spans} if spans is not None else set(SUPPORTS)
    items = [
        f'<span style="background:{colour}">{html.escape(label)}</span>'
        for key, (label, colour) in SUPPORTS.items()
        if key in present
    ]
    return f'<div class="supports-legend">{"".join(items)}</div>'


def finding_hover_css(count: int) -> str:
    """CSS that outlines finding n's spans while the pointer is on an element with data-finding="n"."""
    rules = ["body:has([data-finding]:hover) .note-text mark { opacity: 0.35; }"]
    rules += [
        f'body:has([data-finding="{n}"]:hover) .note-text mark[data-findings~="{n}"] '
        "{ opacity: 1; outline: 2px solid #d32f2f; }"
        for n in range(1, count + 1)
    ]
    return "\n".join(rules)


def _mark(segment: str, covering: list[Span], focus: int | None) -> str:
    narrowest = min(covering, key=lambda s: (s.end - s.start, s.start))  # the most specific span colours it
    supports = list(dict.fromkeys(s.supports for s in covering))
    findings = sorted(set().union(*(s.findings for s in covering)))
    label = ", ".join(SUPPORTS[key][0] for key in supports)
    if findings:
        label += " | finding " + ", ".join(f"#{n}" for n in findings)
    attributes = [
        f'class="ev-{narrowest.supports}{" focus" if focus in findings else ""}"',
        f'style="background:{SUPPORTS[narrowest.supports][1]}"',
        f'data-supports="{" ".join(supports)}"',
        f'data-findings="{" ".join(map(str, findings))}"',
        f'title="{html.escape(label)}"',
    ]
    return f"<mark {' '.join(attributes)}>{segment}</mark>"
