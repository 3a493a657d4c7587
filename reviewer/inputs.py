"""Reading notes from files and uploads, with a clear error for anything that is not a note."""

from __future__ import annotations

import io
from pathlib import Path

NOTE_SUFFIXES = (".txt", ".md", ".pdf", ".docx")
DEFAULT_MAX_BYTES = 2_000_000
MIN_NOTE_CHARS = 20


class InputError(Exception):
    """The input cannot be reviewed; the message is one line a user can act on."""


def read_note(path: Path, max_bytes: int | None = None) -> str:
    """The text of the note at `path` (txt, md, pdf with a text layer, docx)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a note (use `reviewer batch` for folders)")
    limit = max_bytes or DEFAULT_MAX_BYTES
    size = path.stat().st_size
    if size > limit:
        raise InputError(f"{path.name}: file is {size:,} bytes, over the {limit:,}-byte limit")
    return read_note_bytes(path.read_bytes(), path.name, max_bytes=limit)


def read_note_bytes(data: bytes, filename: str, max_bytes: int | None = None) -> str:
    """The text of an uploaded note; `filename` decides the format."""
    limit = max_bytes or DEFAULT_MAX_BYTES
    if len(data) > limit:
        raise InputError(f"{filename}: file is {len(data):,} bytes, over the {limit:,}-byte limit")
    if not data.strip():
        raise InputError(f"{filename}: file is empty")
    suffix = Path(filename).suffix.lower()
    if suffix == ".pdf":
        text = _pdf_text(data, filename)
    elif suffix == ".docx":
        text = _docx_text(data, filename)
    elif suffix in (".txt", ".md", ""):
        text = _plain_text(data, filename)
    else:
        raise InputError(f"{filename}: unsupported file type {suffix!r} (use {', '.join(NOTE_SUFFIXES)})")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text.strip()) < MIN_NOTE_CHARS:
        raise InputError(f"{filename}: no note text found (only {len(text.strip())} characters)")
    return text


def _plain_text(data: bytes, filename: str) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{filename}: looks like a binary file, not a text note")
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            break
        return text
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputError(f"{filename}: text is not UTF-8 or Windows-1252 ({exc.reason})") from None
    if _control_share(text) > 0.05:
        raise InputError(f"{filename}: looks like a binary file, not a text note")
    return text


def _control_share(text: str) -> float:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls / max(len(text), 1)


def _pdf_text(data: bytes, filename: str) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    # A damaged PDF makes pypdf raise nearly anything (fuzzing found NotImplementedError, among others).
    except Exception as exc:
        raise InputError(f"{filename}: not a readable PDF ({type(exc).__name__})") from None
    text = "\n".join(pages)
    if not text.strip():
        raise InputError(f"{filename}: the PDF has no text layer (scanned image?); run OCR first or paste the text")
    return text


def _docx_text(data: bytes, filename: str) -> str:
    import zipfile

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    try:
        document = docx.Document(io.BytesIO(data))
        for child in document.element.body.iterchildren():  # paragraphs and tables in document order
            if child.tag.endswith("}p"):
                lines.append(Paragraph(child, document).text)
            elif child.tag.endswith("}tbl"):
                for row in Table(child, document).rows:
                    lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    except zipfile.BadZipFile:
        raise InputError(f"{filename}: not a readable .docx file (not a zip archive)") from None
    # Damaged XML inside the zip makes python-docx and lxml raise many kinds (XMLSyntaxError, KeyError, ...).
    except Exception as exc:
        raise InputError(f"{filename}: not a readable .docx file ({type(exc).__name__})") from None
    return "\n".join(lines)
