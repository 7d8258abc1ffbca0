"""Plain helpers shared by test modules (not a test file): minimal DOCX builders."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CT = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def docx(path: Path, body: str, doctype: str = "") -> Path:
    """A .docx at ``path`` whose document body is the WordprocessingML ``body``."""
    xml = f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<w:document {W}><w:body>{body}'
    xml += "</w:body></w:document>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/document.xml", xml)
    path.write_bytes(buf.getvalue())
    return path


def para(text: str, style: str = "") -> str:
    """One paragraph of ``text`` (optionally with a paragraph style) for ``docx``'s body."""
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{ppr}<w:r><w:t>{text}</w:t></w:r></w:p>"
