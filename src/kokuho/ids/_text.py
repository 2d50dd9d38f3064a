from __future__ import annotations

import unicodedata


def to_halfwidth(value: str) -> str:
    """Full-width digits and Latin letters to half-width (NFKC), surrounding spaces removed.

    Staff and card readers send ``０１１３００１２`` as often as ``01130012``.
    """
    return unicodedata.normalize("NFKC", value).strip()


_FULL_WIDTH_NUMBER = str.maketrans("０１２３４５６７８９．，－＋％", "0123456789.,-+%")


def half_width_number(value: str) -> str:
    """Full-width digits, point, comma, signs and % as their ASCII forms, nothing else changed:
    a number typed with a Japanese input method reads as typed, while other scripts' digits
    (٣, 𝟑) and ① or ², which NFKC would turn into digits, stay what they are (refused)."""
    return value.translate(_FULL_WIDTH_NUMBER)


def digits_only(kind: str, value: str, lengths: tuple[int, ...]) -> str:
    from kokuho.ids._errors import InvalidIdentifier

    text = to_halfwidth(value)
    if not text.isascii() or not text.isdigit():
        raise InvalidIdentifier(kind, value, "must contain digits only")
    if len(text) not in lengths:
        wanted = " or ".join(str(n) for n in lengths)
        raise InvalidIdentifier(kind, value, f"must have {wanted} digits, has {len(text)}")
    return text
