"""A NoteReport as one printable, self-contained HTML page (print it to PDF from the browser).

It holds the note text (PHI): it is a download for the reviewer, never written to a log.
"""

from __future__ import annotations

import html

from reviewer.highlight import HIGHLIGHT_CSS, highlight_html, legend_html, report_spans
from reviewer.report import NoteReport, edit_tables_summary

_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
.band-high { color: #b71c1c; } .band-medium { color: #e65100; } .band-low { color: #1b5e20; }
.sev-error { color: #b71c1c; font-weight: bold; } .sev-warning { color: #e65100; } .sev-info { color: #1565c0; }
.muted { color: #666; font-size: 0.85rem; }
@media print { body { margin: 0.5in; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def render_report_html(report: NoteReport) -> str:
    """The whole report: summary, findings, units, extraction checks and the highlighted note."""
    e = html.escape
    spans = report_spans(report)
    sections = [f"<h1>Note review: {e(report.note_id)}</h1>", _summary(report)]
    if report.status == "failed":
        sections.append(
            f"<p class='sev-error'>Review failed: {e(report.error or 'unknown error')}. "
            "The note is NOT cleared; review it by hand.</p>"
        )
    sections += [_findings(report), _units(report), _discrepancies(report)]
    if report.note_text is not None:
        sections += ["<h2>Note with evidence</h2>", legend_html(spans), highlight_html(report.note_text, spans)]
    body = "\n".join(section for section in sections if section)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Review {e(report.note_id)}</title><style>{_PAGE_CSS}{HIGHLIGHT_CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _summary(report: NoteReport) -> str:
    e = html.escape
    rows = [
        ("Payer", report.payer + (f", {report.state}" if report.state else "")),
        ("Audit score", f"{report.score} ({report.risk_band} risk)" if report.score is not None else "none"),
        ("Flags", ", ".join(report.flags) or "none"),
        ("Model", f"{report.model.backend} {report.model.model} (prompt {report.model.prompt_version})"),
        ("Rules version", report.rules_version or "unknown"),
        ("Edit tables", edit_tables_summary(report.edit_tables)),
    ]
    if report.locality is not None:
        loc = report.locality
        rows.append(
            (
                "MAC locality",
                f"{loc.contractor}, jurisdiction {loc.jurisdiction}" + (f", LCD {loc.lcd}" if loc.lcd else ""),
            )
        )
    band = f" class='band-{e(report.risk_band)}'" if report.risk_band else ""
    cells = "".join(
        f"<tr><th>{e(name)}</th><td{band if name == 'Audit score' else ''}>{e(value)}</td></tr>" for name, value in rows
    )
    return f"<table>{cells}</table>"


def _findings(report: NoteReport) -> str:
    e = html.escape
    if report.status != "ok":
        return ""
    if not report.findings:
        return "<h2>Findings</h2><p>No findings.</p>"
    rows = "".join(
        f"<tr><td>{n}</td><td class='sev-{e(f.severity)}'>{e(f.severity)}</td><td>{e(f.rule)}</td>"
        f"<td>{e(f.message)}<div class='muted'>{e(f.citation)}</div></td><td>{e(f.fix)}</td></tr>"
        for n, f in enumerate(report.findings, start=1)
    )
    return (
        "<h2>Findings</h2><table><tr><th>#</th><th>Severity</th><th>Rule</th><th>Finding and source</th>"
        f"<th>Fix</th></tr>{rows}</table>"
    )


def _units(report: NoteReport) -> str:
    if not report.units:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(row.code)}</td><td>{_number(row.minutes)}</td><td>{_number(row.billed)}</td>"
        f"<td>{_number(row.supported)}</td><td>{row.at_risk}</td></tr>"
        for row in report.units
    )
    return (
        "<h2>Units</h2><table><tr><th>Code</th><th>Minutes</th><th>Billed</th><th>Supported</th>"
        f"<th>At risk</th></tr>{rows}</table>"
    )


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _discrepancies(report: NoteReport) -> str:
    extraction = report.extraction
    if extraction is None or not extraction.discrepancies:
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(d.field)}</td><td>{e(str(d.parser))}</td><td>{e(str(d.model))}</td><td>{e(str(d.chosen))}</td></tr>"
        for d in extraction.discrepancies
    )
    return (
        "<h2>Model and parser disagreed</h2><table><tr><th>Field</th><th>Parser</th><th>Model</th>"
        f"<th>Chosen</th></tr>{rows}</table>"
    )
