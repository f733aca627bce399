"""Names in scripts the PDF's machine has no font for: marked, never empty boxes.

Run with fontconfig limited to DejaVu (no CJK font, as on CI and most servers), through the CLI in
a separate process: the snapshot's file name (the report's scope line) and a subscription's display
name are Chinese and Japanese. Each such character prints as a `[U+XXXX]` mark, the cover says why,
stderr says which and what to install; Greek and accented Latin, which DejaVu draws, are untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[2]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
SUBSCRIPTION = "Larkspur 健康研究 サブスクリプション"

pytestmark = [
    pytest.mark.skipif(not DEJAVU.is_dir(), reason="needs the DejaVu fonts (fonts-dejavu-core)"),
]


@pytest.fixture(scope="module")
def dejavu_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pytest.importorskip("weasyprint")
    root = tmp_path_factory.mktemp("fonts")
    conf = root / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{DEJAVU}</dir><cachedir>{root / 'cache'}</cachedir></fontconfig>\n"
    )
    return {**os.environ, "FONTCONFIG_FILE": str(conf), "PYTHONPATH": str(REPO)}


def python(env: dict[str, str], code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


def test_only_characters_without_a_font_are_marked(dejavu_only: dict[str, str]) -> None:
    code = (
        "import json; from reports import pdf\n"
        'page = \'<html><head><title>\u7814</title></head><body><p title="\u7814">\u03a9mega caf\u00e9 \u7814\u7a76</p>'
        '<p class="muted running-scope">x</p></body></html>\'\n'
        "marked, fontless = pdf.marked_fontless(page)\n"
        "plain, none = pdf.marked_fontless('<body><p>\u03a9mega caf\u00e9</p></body>')\n"
        "print(json.dumps([marked, sorted(fontless), plain, sorted(none)]))\n"
    )
    done = python(dejavu_only, code)
    assert done.returncode == 0, done.stderr
    marked, fontless, plain, none = json.loads(done.stdout)
    assert fontless == ["\u7814", "\u7a76"] and none == []
    assert plain == "<body><p>\u03a9mega caf\u00e9</p></body>"  # nothing to mark: unchanged
    assert (
        '\u03a9mega caf\u00e9 <wbr><span class="cc">[U+7814]</span><wbr><wbr><span class="cc">[U+7A76]</span>' in marked
    )
    assert 'title="\u7814"' in marked and "<title>\u7814</title>" in marked  # markup and the head are left alone
    assert marked.index("2 character(s) in this report have no font") < marked.index("running-scope")


def test_a_pdf_of_cjk_names_marks_them_and_says_what_to_install(dejavu_only: dict[str, str], tmp_path: Path) -> None:
    demo = (REPO / "scanner" / "data" / "demo-estate.jsonl").read_text()
    assert '"name":"Larkspur Health Research"' in demo
    snapshot = tmp_path / "\u7814\u7a76.jsonl"  # the scope line: "snapshot 研究.jsonl"
    snapshot.write_text(demo.replace('"name":"Larkspur Health Research"', f'"name":"{SUBSCRIPTION}"'))
    out = tmp_path / "out"
    done = python(
        dejavu_only,
        "from scanner.cli import main; main()",
        "scan",
        "--snapshot",
        str(snapshot),
        "--format",
        "pdf",
        "--out",
        str(out),
        "--fail-on",
        "none",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("mlwarden: note: PDF: ")]
    fontless = {char for char in "\u7814\u7a76" + SUBSCRIPTION if ord(char) > 0x7E and not char.isspace()}
    assert len(notes) == 1 and f"{len(fontless)} character(s)" in notes[0] and "fonts-noto-cjk" in notes[0]
    text = "\n".join(page.extract_text() for page in PdfReader(out / "mlwarden-report.pdf").pages)
    assert "[U+7814][U+7A76].jsonl" in text.replace(" ", "")
    assert "have no font on the machine that rendered this PDF" in text.replace("\n", " ")
    assert not fontless & set(text)  # no empty box stands for any of them
