"""Which characters the machine that renders the PDF has no font for.

WeasyPrint draws text with the fonts fontconfig knows; a character that none of them covers
(Chinese, Japanese or Korean names on a machine without CJK fonts) prints as an empty box, and two
different names of such characters print the same. The PDF shows each such character as a
`[U+XXXX]` mark instead, so names stay distinct and nothing looks like text that is not there
(`reports.pdf`). Fonts are the machine's business (Debian: `fonts-noto-cjk`, which the container
image has); bundling a CJK font would add tens of MB to every install for the few estates that need it.

Coverage is asked of fontconfig itself (the library Pango uses, through ctypes): the union of
every installed font's character set, built once per process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterable

_MATCH = 0  # FcResultMatch


class _FontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int), ("fonts", ctypes.POINTER(ctypes.c_void_p))]


@functools.cache
def _coverage() -> tuple[ctypes.CDLL, int] | None:
    """fontconfig and the union of every font's character set, or None where fontconfig is not
    found (then nothing is marked: WeasyPrint could not have run without it)."""
    name = ctypes.util.find_library("fontconfig")
    if name is None:
        return None
    try:
        fc = ctypes.CDLL(name)
    except OSError:
        return None
    fc.FcInitLoadConfigAndFonts.restype = ctypes.c_void_p
    fc.FcPatternCreate.restype = ctypes.c_void_p
    fc.FcObjectSetBuild.restype = ctypes.c_void_p
    fc.FcObjectSetBuild.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    fc.FcFontList.restype = ctypes.POINTER(_FontSet)
    fc.FcFontList.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    fc.FcPatternGetCharSet.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
    fc.FcCharSetCreate.restype = ctypes.c_void_p
    fc.FcCharSetMerge.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    fc.FcCharSetHasChar.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    fc.FcPatternDestroy.argtypes = [ctypes.c_void_p]
    fc.FcObjectSetDestroy.argtypes = [ctypes.c_void_p]
    fc.FcFontSetDestroy.argtypes = [ctypes.POINTER(_FontSet)]
    config = fc.FcInitLoadConfigAndFonts()
    pattern, objects = fc.FcPatternCreate(), fc.FcObjectSetBuild(b"charset", None)
    fonts = fc.FcFontList(config, pattern, objects)
    union = fc.FcCharSetCreate()
    charset = ctypes.c_void_p()
    for index in range(fonts.contents.nfont if fonts else 0):
        if fc.FcPatternGetCharSet(fonts.contents.fonts[index], b"charset", 0, ctypes.byref(charset)) == _MATCH:
            fc.FcCharSetMerge(union, charset, None)
    if fonts:
        fc.FcFontSetDestroy(fonts)
    fc.FcObjectSetDestroy(objects)
    fc.FcPatternDestroy(pattern)
    return fc, union


def without_font(characters: Iterable[str]) -> frozenset[str]:
    """The characters among `characters` that no installed font can draw (whitespace and
    format characters aside: they draw nothing anyway)."""
    coverage = _coverage()
    if coverage is None:
        return frozenset()
    fc, union = coverage
    return frozenset(
        char
        for char in set(characters)
        if not char.isspace() and char.isprintable() and not fc.FcCharSetHasChar(union, ord(char))
    )
