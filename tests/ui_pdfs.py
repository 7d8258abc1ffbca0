"""Test PDFs for the chat's document view and uploads, with what each is known to hold (the
expected values the tests compare against come from here, not from the code under test)."""

from __future__ import annotations

from pathlib import Path

# (bookmark title, level) of each page of outline_pdf, one section a page
SECTIONS = [
    ("Background", 1),
    ("Method", 1),
    ("Findings", 1),
    ("Findings continued", 2),
    ("Recommendations", 1),
    ("Annex", 1),
]
CROSS_HEAD = "The survey found that the oldest lock keeper of the northern canal"
CROSS_TAIL = "had served for 41 years before retiring in 2019."
CROSS_QUOTE = f"{CROSS_HEAD} {CROSS_TAIL}"  # starts on page 1, ends on page 2


TEAMS = ["red", "blue", "green", "amber", "violet", "silver"]
PIERS = ["north", "south", "east", "west", "old", "new", "ferry", "fish"]


def boats(page: int, k: int) -> str:
    """The k-th sentence on page ``page`` of outline_pdf (no two pages alike in their words,
    or the loader would take their first lines for a running header)."""
    team, pier = TEAMS[(page - 1) % 6], PIERS[(k - 1) % 8]
    return f"The {team} team logged {page * 7 + k} boats near the {pier} pier on patrol {k}."


def outline_pdf(path: Path) -> Path:
    """Six pages, each a section with a bookmark (SECTIONS) and eight boats() sentences."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Harbour patrol review")
    for n, (title, level) in enumerate(SECTIONS, start=1):
        pdf.add_page()
        pdf.start_section(title, level=level - 1)
        pdf.set_font("helvetica", "B", 16)
        pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=11)
        body = " ".join(boats(n, k) for k in range(1, 9))
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def cross_pdf(path: Path) -> Path:
    """Two pages; CROSS_QUOTE runs from the end of page 1 onto page 2."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Canal lock survey")
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    locks = " ".join(f"Lock {k} was painted in spring and checked by the canal staff." for k in
                     range(1, 40))  # fmt: skip
    pdf.multi_cell(0, 6, f"Canal lock survey\n\n{locks} {CROSS_HEAD}", new_x="LMARGIN",
                   new_y="NEXT")  # fmt: skip
    pdf.add_page()
    gates = " ".join(f"Gate {k} was oiled in summer." for k in range(1, 10))
    pdf.multi_cell(0, 6, f"{CROSS_TAIL} {gates}", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def long_pdf(path: Path, pages: int, fact: str = "") -> Path:
    """``pages`` pages of a dozen sentences each (``fact`` at the end of the last page)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Long station report")
    pdf.set_font("helvetica", size=11)
    for n in range(1, pages + 1):
        pdf.add_page()
        body = " ".join(
            f"Inspectors visited station {n}-{k} in week {k} and wrote {k + n} notes."
            for k in range(1, 13)
        )
        if n == pages and fact:
            body += f" {fact}"
        pdf.multi_cell(0, 6, f"Station {n}\n\n{body}", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path
