"""The imported CMS edit tables in the database: import, list, and the tables a review applies.

An import reads every file first (`reviewer.cms_files`) and writes in one transaction, so a
malformed file leaves the database as it was. A table version is keyed by (kind, version); each
file of it is recorded with its sha256, so importing the same file again changes nothing, and a
different file for a part already imported is refused rather than mixed in.

By default only rows that concern a code of `data/codes.yaml` (the therapy codes the reviewer
knows) are kept: a PTP pair where either code is one, an MUE of one. The version row records the
rows read and kept, and `reviewer data list` shows both. `keep="all"` keeps every row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from reviewer.cms_files import (
    EditFileError,
    ParsedFile,
    mue_effective_from_name,
    ptp_part_from_name,
    ptp_quarter,
    ptp_version_from_name,
    quarter_of,
    quarter_span,
    read_mue_file,
    read_ptp_file,
)
from reviewer.codes import code_table, normalize_code
from reviewer.db import EditTableVersionRow, MueValueRow, PtpEditRow, make_engine, utcnow
from reviewer.edit_tables import (
    EditTables,
    MueTable,
    MueValue,
    PtpPair,
    PtpTable,
    TableKind,
    TableVersion,
    pick_version,
)

KeepMode = Literal["therapy", "all"]
_CHUNK = 5_000  # rows per INSERT batch; codes per IN (...) stay far below SQLite's parameter limit


@dataclass
class ImportResult:
    """What one import did: the version, the files stored and those already stored before."""

    kind: TableKind
    version: str
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.imported)


class EditTableStore:
    """The imported edit tables in any SQLAlchemy database (the one the result store uses)."""

    def __init__(self, url: str):
        """Open the tables at `url`, first migrating the database to the current schema."""
        from reviewer.migrations import upgrade

        upgrade(url)
        self.engine = make_engine(url)

    @classmethod
    def open_existing(cls, url: str) -> EditTableStore | None:
        """The store at `url`, or None when it is a SQLite file that does not exist (nothing imported;
        a review does not create a database just to find that out)."""
        local = url.startswith("sqlite:///") and url != "sqlite:///:memory:"
        if local and not Path(url.removeprefix("sqlite:///")).expanduser().exists():
            return None
        return cls(url)

    def close(self) -> None:
        self.engine.dispose()

    # --- import ----------------------------------------------------------------------------------

    def import_ptp(
        self,
        paths: Iterable[Path],
        *,
        version: str | None = None,
        effective: date | None = None,
        keep: KeepMode = "therapy",
    ) -> ImportResult:
        """Import NCCI PTP practitioner files (the -f1 … -f4 parts of one version). Raises EditFileError."""
        paths = [Path(p) for p in paths]
        if not paths:
            raise EditFileError("(none)", "no files given")
        names = {ptp_version_from_name(p.name) for p in paths}
        if version is None:
            if None in names or len(names) != 1:
                raise EditFileError(
                    paths[0], "cannot tell the version from the file names (ccipra-v###r#-f#); give --version"
                )
            version = str(names.pop())
        span = _span(version, effective)
        if span is None:
            raise EditFileError(paths[0], f"cannot tell the effective date of {version}; give --effective YYYY-MM-DD")
        parts = [ptp_part_from_name(p.name) for p in paths]
        if len(set(parts)) != len(parts):
            raise EditFileError(paths[0], f"two files for the same part ({', '.join(parts)})")
        parsed = [read_ptp_file(p, _keeper(keep)) for p in paths]
        return self._store("ncci_ptp", version, span, keep, list(zip(parts, parsed)))

    def import_mue(
        self,
        path: Path,
        *,
        version: str | None = None,
        effective: date | None = None,
        keep: KeepMode = "therapy",
    ) -> ImportResult:
        """Import a practitioner services MUE file. Raises EditFileError."""
        path = Path(path)
        effective = effective or mue_effective_from_name(path.name)
        if effective is None:
            raise EditFileError(
                path,
                "cannot tell the effective date from the file name (…_Eff_MM-DD-YYYY); give --effective YYYY-MM-DD",
            )
        quarter = quarter_of(effective)
        span = quarter_span(*quarter) if quarter else (effective, None)
        version = version or (f"{quarter[0]}Q{quarter[1]}" if quarter else effective.isoformat())
        parsed = read_mue_file(path, _keeper(keep))
        return self._store("mue", version, span, keep, [("mue", parsed)])

    def _store(
        self,
        kind: TableKind,
        version: str,
        span: tuple[date, date | None],
        keep: KeepMode,
        files: list[tuple[str, ParsedFile]],
    ) -> ImportResult:
        result = ImportResult(kind, version)
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(EditTableVersionRow).where(
                    EditTableVersionRow.kind == kind, EditTableVersionRow.version == version
                )
            )
            if row is None:
                row = EditTableVersionRow(
                    kind=kind, version=version, effective_from=span[0], effective_to=span[1], kept=keep, files=[]
                )
                row.rows_read, row.rows_kept = 0, 0
                session.add(row)
                session.flush()
            elif row.kept != keep:
                raise EditFileError(
                    files[0][1].path,
                    f"{version} was imported keeping {row.kept} codes; import it with the same setting",
                )
            elif (row.effective_from, row.effective_to) != span:
                raise EditFileError(
                    files[0][1].path,
                    f"{version} was imported as effective {row.effective_from}; the dates given differ",
                )
            recorded = {entry["part"]: entry for entry in row.files}
            new_entries = []
            for part, parsed in files:
                known = recorded.get(part)
                if known is not None and known["sha256"] == parsed.sha256:
                    result.unchanged.append(parsed.path.name)
                    continue
                if known is not None:
                    raise EditFileError(
                        parsed.path,
                        f"{version} part {part} was already imported from a different file ({known['name']})",
                    )
                self._insert_rows(session, row.id, part, parsed)
                new_entries.append(
                    {
                        "name": parsed.path.name,
                        "part": part,
                        "sha256": parsed.sha256,
                        "rows_read": parsed.rows_read,
                        "rows_kept": parsed.rows_kept,
                    }
                )
                result.imported.append(parsed.path.name)
            if new_entries:
                row.files = [*row.files, *new_entries]
                row.rows_read = sum(entry["rows_read"] for entry in row.files)
                row.rows_kept = sum(entry["rows_kept"] for entry in row.files)
                row.imported_at = utcnow()
            result.rows_read, result.rows_kept = row.rows_read, row.rows_kept
        return result

    @staticmethod
    def _insert_rows(session: Session, version_id: int, part: str, parsed: ParsedFile) -> None:
        if parsed.ptp:
            rows: list[dict[str, object]] = [
                {
                    "version_id": version_id,
                    "part": part,
                    "column1": p.column1,
                    "column2": p.column2,
                    "prior_1996": p.prior_1996,
                    "effective": p.effective,
                    "deleted": p.deleted,
                    "modifier_indicator": p.modifier_indicator,
                    "rationale": p.rationale,
                }
                for p in parsed.ptp
            ]
            model: type[PtpEditRow] | type[MueValueRow] = PtpEditRow
        else:
            rows = [
                {
                    "version_id": version_id,
                    "code": v.code,
                    "mue_value": v.value,
                    "indicator": v.indicator,
                    "indicator_text": v.indicator_text,
                    "rationale": v.rationale,
                }
                for v in parsed.mue
            ]
            model = MueValueRow
        for start in range(0, len(rows), _CHUNK):
            session.execute(insert(model), rows[start : start + _CHUNK])

    def remove(self, kind: TableKind, version: str) -> bool:
        """Delete an imported version and its rows; False when there was none."""
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(EditTableVersionRow).where(
                    EditTableVersionRow.kind == kind, EditTableVersionRow.version == version
                )
            )
            if row is None:
                return False
            rows_table = PtpEditRow if kind == "ncci_ptp" else MueValueRow
            session.execute(delete(rows_table).where(rows_table.version_id == row.id))
            session.delete(row)
        return True

    # --- read ------------------------------------------------------------------------------------

    def versions(self) -> list[TableVersion]:
        """Every imported version, by kind then effective date."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(EditTableVersionRow).order_by(EditTableVersionRow.kind, EditTableVersionRow.effective_from)
            ).all()
            return [_version(row) for row in rows]

    def fingerprint(self) -> str:
        """The imported versions in one string: a review's result changes when this does."""
        return ",".join(f"{v.kind}:{v.version}:{v.rows_kept}" for v in self.versions())

    def tables_for(self, service_date: date, codes: Iterable[str]) -> EditTables:
        """The versions in force on `service_date`, with only the rows among `codes` (the billed codes)."""
        wanted = sorted({normalize_code(c) for c in codes})
        with Session(self.engine) as session:
            rows = session.scalars(select(EditTableVersionRow)).all()
            by_kind: dict[str, list[tuple[TableVersion, int]]] = {}
            for row in rows:
                by_kind.setdefault(row.kind, []).append((_version(row), row.id))
            newest = {
                kind: max((v for v, _ in items), key=lambda v: v.effective_from) for kind, items in by_kind.items()
            }
            ptp = mue = None
            if chosen := _chosen(by_kind.get("ncci_ptp", []), service_date):
                version, version_id = chosen
                pairs = session.scalars(
                    select(PtpEditRow).where(
                        PtpEditRow.version_id == version_id,
                        PtpEditRow.column1.in_(wanted),
                        PtpEditRow.column2.in_(wanted),
                    )
                ).all()
                ptp = PtpTable(version, tuple(_pair(p) for p in pairs))
            if chosen := _chosen(by_kind.get("mue", []), service_date):
                version, version_id = chosen
                values = session.scalars(
                    select(MueValueRow).where(MueValueRow.version_id == version_id, MueValueRow.code.in_(wanted))
                ).all()
                mue = MueTable(version, {v.code: _mue(v) for v in values})
        return EditTables(ptp=ptp, mue=mue, newest=newest)


def _span(version: str, effective: date | None) -> tuple[date, date | None] | None:
    if effective is not None:
        quarter = quarter_of(effective)
        return quarter_span(*quarter) if quarter else (effective, None)
    return ptp_quarter(version)


def _keeper(keep: KeepMode):
    if keep == "all":
        return None
    therapy = frozenset(code_table())
    return therapy.__contains__


def _chosen(items: list[tuple[TableVersion, int]], day: date) -> tuple[TableVersion, int] | None:
    version = pick_version([v for v, _ in items], day)
    return next((item for item in items if item[0] is version), None) if version else None


def _version(row: EditTableVersionRow) -> TableVersion:
    kind: TableKind = "mue" if row.kind == "mue" else "ncci_ptp"
    return TableVersion(
        kind=kind,
        version=row.version,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        rows_read=row.rows_read,
        rows_kept=row.rows_kept,
        kept=row.kept,
        files=tuple(entry["name"] for entry in row.files),
    )


def _pair(row: PtpEditRow) -> PtpPair:
    return PtpPair(
        column1=row.column1,
        column2=row.column2,
        modifier_indicator=row.modifier_indicator,
        effective=row.effective,
        deleted=row.deleted,
        prior_1996=row.prior_1996,
        rationale=row.rationale,
    )


def _mue(row: MueValueRow) -> MueValue:
    return MueValue(
        code=row.code,
        value=row.mue_value,
        indicator=row.indicator,
        indicator_text=row.indicator_text,
        rationale=row.rationale,
    )
