"""Documents are accepted by their content only: PDF, JPEG or PNG (issue 13, finding 8).

The declared type and the file name are the sender's claim; the first bytes decide. Anything
else (HTML, SVG, an executable, a text file named ``.pdf``) is refused with the reason, through
the domain and through the API (tests/api/test_document_types.py).
"""

from __future__ import annotations

import pytest

from appliance.errors import ValidationFailed
from appliance.requests import DocumentKind, Upload
from appliance.requests.workflow import check_upload, document_type

PDF = b"%PDF-1.7\n1 0 obj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(PDF, "application/pdf"), (JPEG, "image/jpeg"), (PNG, "image/png")],
)
def test_the_three_types_are_known_by_their_first_bytes(data: bytes, media_type: str) -> None:
    assert document_type(data) == media_type
    # Whatever the name and the declared type say.
    check_upload(Upload(DocumentKind.id_copy, "scan.bin", "", data), 1000)
    check_upload(Upload(DocumentKind.id_copy, "scan", "application/octet-stream", data), 1000)
    check_upload(Upload(DocumentKind.id_copy, "scan.pdf", media_type, data), 1000)


@pytest.mark.parametrize(
    "data",
    [
        b"<html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"MZ\x90\x00\x03",  # a Windows executable
        b"PK\x03\x04",  # a ZIP (or DOCX)
        b"%PDF",  # too short to be a PDF header
        b" %PDF-1.4",  # not at the start
        b"\xff\xd8",  # half a JPEG marker
        b"\x89PNG\r\n",  # a truncated PNG signature
        b"GIF89a",
    ],
)
def test_anything_else_is_refused_whatever_it_claims(data: bytes) -> None:
    for name, declared in [("id.pdf", "application/pdf"), ("id.png", "image/png"), ("x", "")]:
        with pytest.raises(ValidationFailed, match="PDF, JPEG or PNG"):
            check_upload(Upload(DocumentKind.id_copy, name, declared, data), 1000)
