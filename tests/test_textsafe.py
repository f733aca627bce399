from scanner.textsafe import printable


def test_controls_and_bidi_are_neutralised() -> None:
    hostile = "rg\x1b[31mred\x07\x00\r\nforged line\u202eevil\u2066x\u2069"
    cleaned = printable(hostile)
    assert "\n" not in cleaned and "\r" not in cleaned and "\x1b" not in cleaned
    assert not any(ch in cleaned for ch in "\u202e\u2066\u2069\x07\x00")
    assert cleaned.startswith("rg?[31mred")


def test_ordinary_text_is_unchanged() -> None:
    text = "/subscriptions/x/resourceGroups/rg-ml/providers/Microsoft.Web/sites/app-Ünïcode 東京"
    assert printable(text) == text
