"""The report view shared by every page: the highlighted note beside the extraction and findings."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from reviewer.findings import Finding
from reviewer.highlight import HIGHLIGHT_CSS, finding_hover_css, highlight_html, legend_html, report_spans
from reviewer.report import NoteReport, edit_tables_summary
from reviewer.report_html import render_report_html
from reviewer.schema import Evidence

_BAND_COLOUR = {"low": "green", "medium": "orange", "high": "red"}
_SEVERITY_COLOUR = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}


def show_report(report: NoteReport, key: str) -> None:
    """The whole review of one note; `key` keeps widgets of several views apart."""
    if report.status == "failed":
        st.error(f"The review failed: {report.error}. The note is NOT cleared; review it by hand.")
    if report.needs_human and report.extraction is not None:
        st.warning(
            "Needs a human reading: "
            + "; ".join(
                f"{u.field}{f' of {u.code}' if u.code else ''} uncertain (readings: {', '.join(map(str, u.candidates)) or 'none'}) — {u.reason}"
                for u in report.extraction.uncertain
            )
            + ". No billing flag is raised on these values."
        )
    note_column, detail_column = st.columns([1, 1], gap="large")
    with detail_column:
        focus = _summary_and_findings(report, key)
    with note_column:
        _note(report, focus)
    _downloads(report, key)


def _note(report: NoteReport, focus: int | None) -> None:
    st.subheader("Note")
    if report.note_text is None:
        st.info("The note text is not kept with this report.")
        return
    spans = report_spans(report)
    style = f"<style>{HIGHLIGHT_CSS}\n{finding_hover_css(len(report.findings))}</style>"
    st.html(style + legend_html(spans) + highlight_html(report.note_text, spans, focus))


def _summary_and_findings(report: NoteReport, key: str) -> int | None:
    """Score, locality and the tabs; the finding number whose spans to outline, if one is chosen."""
    score_column, locality_column = st.columns(2)
    if report.score is not None:
        colour = _BAND_COLOUR.get(report.risk_band or "", "gray")
        score_column.metric("Audit score", report.score)
        score_column.markdown(
            f":{colour}[**{report.risk_band} risk**] · {report.payer}{', ' + report.state if report.state else ''}"
        )
    if report.locality is not None:
        loc = report.locality
        locality_column.markdown(
            f"**MAC locality**  \n{loc.contractor}, jurisdiction {loc.jurisdiction}"
            + (f"  \nLCD {loc.lcd}" if loc.lcd else "")
        )
    if report.edit_tables:
        st.caption(f"Edit tables applied: {edit_tables_summary(report.edit_tables)}")
    focus = None
    if report.findings:
        labels = {n: f"#{n} {f.rule}: {f.message}" for n, f in enumerate(report.findings, start=1)}
        focus = st.selectbox(
            "Outline the evidence of finding",
            [None, *labels],
            format_func=lambda n: "none" if n is None else labels[n],
            key=f"{key}-focus",
        )
    findings_tab, units_tab, extraction_tab = st.tabs([f"Findings ({len(report.findings)})", "Units", "Extraction"])
    with findings_tab:
        _findings(report)
    with units_tab:
        _units(report)
    with extraction_tab:
        _extraction(report)
    return focus


def _findings(report: NoteReport) -> None:
    if report.status == "ok" and not report.findings:
        st.success("No findings.")
    if report.findings:
        st.caption("Point at a finding to outline its evidence in the note.")
        st.html("".join(_finding_card(n, f) for n, f in enumerate(report.findings, start=1)))


def _finding_card(number: int, finding: Finding) -> str:
    """One finding; `data-finding` lets the hover CSS outline its spans in the note."""
    e = html.escape
    colour = _SEVERITY_COLOUR[finding.severity]
    code = f" · {e(finding.code)}" if finding.code else ""
    code += " · episode (the patient's visits together)" if finding.scope == "episode" else ""
    return (
        f'<div class="finding" data-finding="{number}" '
        f'style="border-left:4px solid {colour};padding:0.2rem 0.6rem;margin-bottom:0.6rem">'
        f'<b>#{number} {e(finding.rule)}</b> <i style="color:{colour}">{e(finding.severity)}</i>{code}'
        f"<br>{e(finding.message)}<br><b>Fix:</b> {e(finding.fix)}<br><small>{e(finding.citation)}</small></div>"
    )


def _units(report: NoteReport) -> None:
    if not report.units:
        st.caption("No timed units billed.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "code": r.code,
                    "minutes": r.minutes,
                    "billed": r.billed,
                    "supported": "uncertain" if r.uncertain else r.supported,
                    "at risk": r.at_risk,
                }
                for r in report.units
            ]
        ),
        hide_index=True,
    )


def _extraction(report: NoteReport) -> None:
    extraction = report.extraction
    if extraction is None:
        st.caption("Nothing was extracted.")
        return
    rows: list[dict] = []

    def add(field: str, value: object, evidence: Evidence | None, verified: bool | None = None) -> None:
        checked = verified if verified is not None else (evidence is not None and evidence.verified)
        rows.append({"field": field, "value": "" if value is None else str(value), "verified": "✓" if checked else "✗"})

    for name, grounded in [
        ("date of service", extraction.date_of_service),
        ("total timed minutes", extraction.total_timed_minutes),
        ("total treatment minutes", extraction.total_treatment_minutes),
        ("time in", extraction.time_in),
        ("time out", extraction.time_out),
    ]:
        if grounded is not None:
            add(name, grounded.value, grounded.evidence, grounded.verified)
    add("discipline", extraction.discipline, None, extraction.discipline is not None)
    if extraction.signature is not None:
        signed = f"{extraction.signature.name or '?'} {', '.join(extraction.signature.credentials)}"
        add("signature", signed, extraction.signature.evidence)
    for goal in extraction.goals:
        add("goal" + (" (measurable)" if goal.measurable else ""), goal.text, goal.evidence)
    for block in extraction.blocks:
        minutes = f"{block.minutes} min" if block.minutes is not None else "minutes not stated"
        add(
            f"block {block.code or '(no code)'}",
            f"{block.kind}, {minutes}" + (", not billed" if block.billed_as_not_billed else ""),
            block.evidence,
        )
    for line in extraction.billing:
        add(
            "billing",
            f"{line.code} {' '.join(line.modifiers)} x{line.units if line.units is not None else '?'}",
            line.evidence,
        )
    for evidence in extraction.skilled_justification:
        add("skilled justification", evidence.text, evidence)
    for evidence in extraction.patient_response:
        add("patient response", evidence.text, evidence)
    if extraction.assistant_involved:
        add("assistant involved", "yes", extraction.assistant_evidence)
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    for d in extraction.discrepancies:
        st.warning(f"Model and note disagree on {d.field}: parser {d.parser}, model {d.model}; used {d.chosen}.")


def _downloads(report: NoteReport, key: str) -> None:
    json_column, html_column = st.columns(2)
    json_column.download_button(
        "Download report (JSON)",
        report.model_dump_json(indent=2),
        file_name=f"{report.note_id}.review.json",
        mime="application/json",
        key=f"{key}-json",
    )
    html_column.download_button(
        "Download printable report (HTML, print to PDF)",
        render_report_html(report),
        file_name=f"{report.note_id}.review.html",
        mime="text/html",
        key=f"{key}-html",
    )
