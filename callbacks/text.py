"""Text as readers see it: cutting a caller's words without splitting what they take for one
character (:func:`grapheme_cut`)."""

from __future__ import annotations

import unicodedata

__all__ = ["JOINERS", "TAGS", "grapheme_cut", "shortened"]

_ZWJ = "\u200d"
#: Not printable, but part of what a caller wrote: the zero-width non-joiner and joiner (of
#: Persian words and of emoji sequences).
JOINERS = frozenset("\u200c\u200d")
_SKIN_TONES = range(0x1F3FB, 0x1F3FF + 1)
#: Tag characters: the letters of a subdivision flag (England, Scotland, Wales).
TAGS = range(0xE0020, 0xE007F + 1)
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F1FF + 1)


def _extends(char: str) -> bool:
    """Whether ``char`` belongs with the character before it: a combining mark (accents,
    vowel signs, variation selectors, the keycap), a joiner, a skin-tone modifier or a tag."""
    return (unicodedata.category(char) in ("Mn", "Me", "Mc") or char in JOINERS
            or ord(char) in _SKIN_TONES or ord(char) in TAGS)


def grapheme_cut(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` characters (code points) that ends
    between two grapheme clusters, what a reader takes for one character: so a cut never
    leaves an emoji without its skin tone, a letter without its accent or half a flag.

    A small part of Unicode's rules (UAX #29) that covers what texts hold: a combining mark,
    a variation selector, a skin-tone modifier, a zero-width joiner or a tag stays with what
    comes before it, what follows a zero-width joiner stays with it (emoji ZWJ sequences),
    and regional indicators go in pairs (flags). Not covered: Hangul syllables written as
    separate jamo, prepended marks and Indic conjuncts across a virama, which may be cut
    between their letters.
    """
    if len(text) <= limit:
        return text
    end = 0
    indicators = 0  # regional indicators in a row up to the one before position i
    for i in range(1, limit + 1):
        before, char = text[i - 1], text[i]
        indicators = indicators + 1 if ord(before) in _REGIONAL_INDICATORS else 0
        joined = (_extends(char) or before == _ZWJ
                  or (ord(char) in _REGIONAL_INDICATORS and indicators % 2 == 1))
        if not joined:
            end = i
    return text[:end]


def shortened(text: str, limit: int, end: str = "…") -> str:
    """``text`` if it has at most ``limit`` characters, else its start cut between two
    grapheme clusters (:func:`grapheme_cut`), its trailing spaces dropped, and ``end``: at
    most ``limit`` characters in all."""
    if len(text) <= limit:
        return text
    return grapheme_cut(text, limit - len(end)).rstrip() + end
