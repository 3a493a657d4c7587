"""Bad input gets a clear one-line error; good input of every format is read."""

import io

import pytest

from reviewer.inputs import InputError, read_note, read_note_bytes

NOTE = "DAILY NOTE\nTherapeutic activities 97530 x 25 min: transfers\nSigned: A. Lee, PT\n"


def test_reads_utf8_text(tmp_path):
    path = tmp_path / "n.txt"
    path.write_text(NOTE, encoding="utf-8")
    assert read_note(path) == NOTE


def test_reads_windows_1252_and_utf16(tmp_path):
    assert "café" in read_note_bytes((NOTE + "café").encode("cp1252"), "n.txt")
    assert read_note_bytes(NOTE.encode("utf-16"), "n.txt") == NOTE


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "empty.txt", "empty"),
        (b"   \n\n ", "blank.txt", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "scan.txt", "binary"),
        (b"short", "tiny.txt", "no note text"),
        (b"x" * 50, "note.exe", "unsupported file type"),
        (b"%PDF-1.4 garbage", "broken.pdf", "not a readable PDF"),
        (b"PK\x03\x04 not really a docx", "broken.docx", "not a readable .docx"),
    ],
)
def test_bad_inputs_raise_clear_errors(data, name, message):
    with pytest.raises(InputError, match=message) as info:
        read_note_bytes(data, name)
    assert "\n" not in str(info.value)


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("a" * 5000)
    with pytest.raises(InputError, match="over the 1,000-byte limit"):
        read_note(path, max_bytes=1000)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_note(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="folder"):
        read_note(tmp_path)


def test_pdf_with_text_layer_and_image_only_pdf():
    reportlab = pytest.importorskip("reportlab.pdfgen.canvas")
    buffer = io.BytesIO()
    canvas = reportlab.Canvas(buffer)
    canvas.drawString(72, 720, "Therapeutic activities 97530 x 25 min: car transfers")
    canvas.save()
    assert "97530 x 25 min" in read_note_bytes(buffer.getvalue(), "note.pdf")

    blank = io.BytesIO()
    canvas = reportlab.Canvas(blank)
    canvas.rect(72, 72, 200, 200, fill=1)  # a page with a picture-like shape and no text
    canvas.save()
    with pytest.raises(InputError, match="no text layer"):
        read_note_bytes(blank.getvalue(), "scan.pdf")


def test_docx_keeps_paragraphs_and_tables_in_order():
    import docx

    document = docx.Document()
    document.add_paragraph("DAILY NOTE before table")
    table = document.add_table(rows=1, cols=3)
    for cell, value in zip(table.rows[0].cells, ["97530", "25", "transfers"]):
        cell.text = value
    document.add_paragraph("Signed: A. Lee, PT")
    buffer = io.BytesIO()
    document.save(buffer)
    text = read_note_bytes(buffer.getvalue(), "note.docx")
    assert text.index("before table") < text.index("97530 | 25 | transfers") < text.index("Signed")
