"""Queue order: the riskiest note first, as one integer the database can sort on."""

from __future__ import annotations

from reviewer.report import NoteReport

_BAND_RANK = {"high": 3, "medium": 2, "low": 1}
_SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
# A failed review checked nothing, and an uncertain one not everything: both rank with the
# high-risk notes until a person looks.
_FAILED_BAND_RANK = _BAND_RANK["high"]
# An episode finding puts the note in at least this band: a visit after the plan of care expired or
# beyond the authorization is unpaid whatever the note itself says.
_EPISODE_BAND = {"error": "high", "warning": "medium", "info": "low"}


def risk_priority(report: NoteReport) -> int:
    """Band, then worst severity, then units at risk, then audit score (100 is clean), packed into digits.

    Episode findings (those `attach_episode_findings` added) rank with the note's own: their severity
    counts, and they raise the band to the one their severity implies."""
    unread = report.status == "failed" or report.needs_human  # nothing, or not everything, could be checked
    band = _FAILED_BAND_RANK if unread else _BAND_RANK.get(report.risk_band or "", 0)
    for finding in report.findings:
        if finding.scope == "episode":
            band = max(band, _BAND_RANK[_EPISODE_BAND[finding.severity]])
    severity = max((_SEVERITY_RANK[f.severity] for f in report.findings), default=0)
    units_at_risk = min(sum(row.at_risk for row in report.units), 99)
    score_lost = 100 - min(max(report.score, 0), 100) if report.score is not None else 0
    return band * 10_000_000 + severity * 1_000_000 + units_at_risk * 10_000 + score_lost
