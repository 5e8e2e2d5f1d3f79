"""Citizen ID numbers (公民身份号码) — GB 11643-1999, check character per ISO 7064 MOD 11-2.

An 18-character number is: 6-digit GB/T 2260 address code, 8-digit birth date ``YYYYMMDD``,
3-digit sequence (odd = male, even = female) and one check character. Also accepted:

* 15-digit legacy numbers (issued before 1999): ``YYMMDD`` and no check character; upgraded by
  inserting ``19`` before the year and appending the check character.
* 港澳台居民居住证 (since 2018): address code 810000 / 820000 / 830000, otherwise the same.
* 外国人永久居留身份证, 2023 edition: leading ``9``; see :func:`check_foreign_layout`.

:func:`parse_id_number` is a visible pipeline of one-rule steps, each raising
:class:`~idp.errors.InvalidIdNumber` with the rule's name. No message and no ``repr`` ever holds
a full number: only the masked form (``1101**********002X``) may be shown or logged.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from idp.errors import InvalidIdNumber
from idp.identity import regions

RESIDENT = "resident"
HMT_RESIDENCE_PERMIT = "hmt_residence_permit"
FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"

HMT_REGION_CODES = frozenset({"810000", "820000", "830000"})
EARLIEST_BIRTH_DATE = datetime.date(1890, 1, 1)

# ISO 7064 MOD 11-2 as written in GB 11643-1999: weight of position i is 2^(18-i) mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"  # indexed by (weighted sum mod 11)
_NORMALISE = str.maketrans(
    {**{chr(0xFF10 + digit): str(digit) for digit in range(10)}, "Ｘ": "X", "ｘ": "X", "x": "X"}
)
_DIGITS = re.compile(r"[0-9]+")
_VISIBLE = 4  # characters shown at each end of a masked number


@dataclass(frozen=True, repr=False)
class IdNumber:
    """A validated ID number. ``str()`` and ``repr()`` show only the masked form."""

    value: str  # normalised: 18 characters, upper-case X
    kind: str  # RESIDENT, HMT_RESIDENCE_PERMIT or FOREIGN_PERMANENT_RESIDENT
    region_code: str  # digits 1-6 (for foreigners: whatever digits 1-6 are)
    birth_date: datetime.date | None
    gender: str  # "male" (odd digit 17) or "female"
    upgraded_from_15: bool

    def masked(self) -> str:
        return mask_id_number(self.value)

    def __repr__(self) -> str:
        return f"IdNumber({self.masked()!r}, kind={self.kind!r})"

    def __str__(self) -> str:
        return self.masked()


def mask_id_number(value: str) -> str:
    """First 4 + ``*`` + last 4 (``1101**********002X``); under 15 characters, all ``*``."""
    text = value.strip()
    if len(text) < 15:
        return "*" * len(text)
    return text[:_VISIBLE] + "*" * (len(text) - 2 * _VISIBLE) + text[-_VISIBLE:]


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``) for 17 ASCII digits."""
    if len(first17) != 17 or not _DIGITS.fullmatch(first17):
        raise ValueError("check_character() needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def parse_id_number(raw: str, *, today: datetime.date | None = None) -> IdNumber:
    """Normalise and validate; the steps below run in this order, the first failure raises."""
    today = datetime.date.today() if today is None else today
    text = normalise(raw)
    check_characters(text)
    check_length(text)
    kind = classify(text)
    check_region(text, kind)
    birth_date = check_birth_date(text, today=today)
    if len(text) == 15:
        value = upgrade_15(text)
    else:
        check_check_digit(text)
        value = text
    return IdNumber(
        value=value,
        kind=kind,
        region_code=value[:6],
        birth_date=birth_date,
        gender="male" if int(value[16]) % 2 else "female",
        upgraded_from_15=len(text) == 15,
    )


def is_valid_id_number(raw: str, *, today: datetime.date | None = None) -> bool:
    """True when :func:`parse_id_number` accepts ``raw`` (as of ``today``, default today)."""
    try:
        parse_id_number(raw, today=today)
    except InvalidIdNumber:
        return False
    return True


# --- the steps -------------------------------------------------------------------------------


def normalise(raw: str) -> str:
    """Strip surrounding whitespace; map full-width ``０``-``９``/``Ｘ`` and ``x`` to ASCII."""
    return raw.strip().translate(_NORMALISE)


def check_characters(text: str) -> None:
    """Rule ``characters``: ASCII digits only, with ``X`` allowed as the last character."""
    body = text[:-1] if text.endswith("X") else text
    for position, char in enumerate(body, start=1):
        if not ("0" <= char <= "9"):
            raise InvalidIdNumber(
                "characters",
                f"character {position} is not a digit: an ID number has only digits 0-9, with X "
                "allowed as the last character — remove spaces, dashes and letters",
            )
    if len(text) == 15 and text.endswith("X"):
        raise InvalidIdNumber(
            "characters",
            "a 15-digit number (issued before 1999) has no check character, so it cannot end "
            "in X — re-type the number from the ID card",
        )


def check_length(text: str) -> None:
    """Rule ``length``: 18 characters, or 15 for a legacy number."""
    if not text:
        raise InvalidIdNumber(
            "length", "the ID number is empty: type the 18 characters on the card"
        )
    if len(text) not in (15, 18):
        raise InvalidIdNumber(
            "length",
            f"the ID number has {len(text)} characters; it must have 18 (or 15 for a number issued "
            "before 1999) — check for a missing or extra digit",
        )


def classify(text: str) -> str:
    """The kind of document, from the leading digits."""
    if len(text) == 18 and text[0] == "9":
        return FOREIGN_PERMANENT_RESIDENT
    if text[:6] in HMT_REGION_CODES:
        return HMT_RESIDENCE_PERMIT
    return RESIDENT


def check_region(text: str, kind: str) -> None:
    """Rule ``region``: the GB/T 2260 address code must be in the table (abolished codes too)."""
    if kind == FOREIGN_PERMANENT_RESIDENT:
        check_foreign_layout(text)
    elif not regions.is_known_region(text[:6]):
        raise InvalidIdNumber(
            "region",
            "the address code (the first 6 digits) is not a known GB/T 2260 region code — "
            "check the first six digits",
        )


def check_foreign_layout(text: str) -> None:
    """Digits 2-6 of a 2023 foreign permanent resident ID (外国人永久居留身份证).

    The layout is *unconfirmed* (DOMAIN.md): reported as a 2-digit issuing-province code
    (digits 2-3) and a 3-digit nationality code (digits 4-6). We check only that digits 2-3 are
    a mainland province-level GB/T 2260 code (11-65: cards are issued by mainland authorities);
    the nationality code is not validated. Change this one function when the layout is known.
    """
    province = text[1:3]
    if province[0] not in "123456" or not regions.is_province_code(province):
        raise InvalidIdNumber(
            "region",
            "digits 2-3 of a foreign permanent resident ID number must be a province code — "
            "re-type the number from the card",
        )


def check_birth_date(text: str, *, today: datetime.date) -> datetime.date:
    """Rule ``birth_date``: a real calendar date, not in the future, not before 1890-01-01."""
    digits = "19" + text[6:12] if len(text) == 15 else text[6:14]
    where = "digits 7-12" if len(text) == 15 else "digits 7-14"
    try:
        birth_date = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise InvalidIdNumber(
            "birth_date",
            f"the birth date ({where}) is not a real calendar date — check the date of birth",
        ) from None
    if birth_date > today:
        raise InvalidIdNumber(
            "birth_date", f"the birth date ({where}) is in the future — check the date of birth"
        )
    if birth_date < EARLIEST_BIRTH_DATE:
        raise InvalidIdNumber(
            "birth_date", f"the birth date ({where}) is before 1890 — check the date of birth"
        )
    return birth_date


def check_check_digit(text: str) -> None:
    """Rule ``check_digit``: the 18th character is the MOD 11-2 check character of the first 17.

    The message does not say what the check character should be: when the mistake is in the
    first 17 digits, "fixing" the last one would turn a typo into a valid wrong number.
    """
    if check_character(text[:17]) != text[17]:
        raise InvalidIdNumber(
            "check_digit",
            "check digit does not match: at least one character is mistyped — re-type the "
            "number from the ID card",
        )


def upgrade_15(text: str) -> str:
    """GB 11643-1999 upgrade of a 15-digit number: insert ``19`` before YY, append the check."""
    first17 = text[:6] + "19" + text[6:]
    return first17 + check_character(first17)
