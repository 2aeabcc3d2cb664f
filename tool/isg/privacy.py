"""The personal-data guard: what looks like personal or case data in free text.

iSupport handles family and child-support cases; this repository's history is public. The
scan looks at free-text values only (not IDs, references, enumerations or timestamps) and
reports *where* and *what kind*, never the value, so a CI log does not repeat it.

Detectors (each tuned to stay quiet on the registry's own IDs, dates and amounts):

* e-mail addresses (except the registry members' own, declared in their records);
* telephone numbers in international form (+33 1 23 45 67 89, 0033...) or a national form
  with separators (01 23 45 67 89);
* IBANs, confirmed by their ISO 7064 mod-97 check digits;
* dates of birth: a date next to "born", "birth", "DOB", "né(e) le", "geboren", "nascido";
* national identifiers of the participating States, confirmed by their check digits where
  they have one: French NIR (key 97), Dutch BSN (11-test), Brazilian CPF, Canadian SIN (Luhn),
  US SSN (format and reserved ranges), Swiss AHV number (EAN-13), Maltese identity card;
* case references: a number or code after "case no", "case number", "dossier", "file ref".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE_INTL = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\d{1,4}){2,6}(?!\w)"
)
PHONE_NATIONAL = re.compile(r"(?<![\w.-])0\d(?:[ .-]\d{2}){4}(?![\w.-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
BIRTH = re.compile(
    r"(?i)\b(?:born|birth|d\.?o\.?b\.?|n[ée]e? le|geboren|nascid[oa])\b[^\n]{0,20}?"
    r"(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2} \w+ \d{4})"
)
CASE_REF = re.compile(
    r"(?i)\b(?:case|dossier|file)[ -]?(?:no\.?|number|nr\.?|ref\.?|reference|#)"
    r"\s*:?\s*(?=[\w/.-]*\d)[A-Z0-9][\w/.-]{3,}"  # a reference has a digit somewhere
)
NIR = re.compile(
    r"(?<!\d)[12] ?\d{2} ?(?:0[1-9]|1[0-2]) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?(\d{2})(?!\d)"
)
BSN = re.compile(r"(?<![\d.-])\d{9}(?![\d.-])")
CPF = re.compile(r"(?<!\d)\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)")
SIN = re.compile(r"(?<!\d)\d{3}[ -]\d{3}[ -]\d{3}(?!\d)")
SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
AHV = re.compile(r"(?<!\d)756\.\d{4}\.\d{4}\.\d{2}(?!\d)")
MALTA_ID = re.compile(r"(?<![\w-])\d{1,7}[MGAPLHBZ](?![\w-])")


@dataclass(frozen=True)
class PrivacyHit:
    """Something that looks like personal data: where it starts and what kind it is."""

    kind: str
    start: int


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def phone_plausible(text: str) -> bool:
    """An international number has 9 to 15 digits after its 00 or + prefix."""
    digits = _digits(text)
    digits = digits[2:] if text.startswith("00") else digits
    return 9 <= len(digits) <= 15


def iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def nir_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper().replace("2A", "19").replace("2B", "18")
    return len(compact) == 15 and 97 - int(compact[:13]) % 97 == int(compact[13:])


def bsn_valid(text: str) -> bool:
    digits = [int(d) for d in text]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0 and digits[0] != 0


def cpf_valid(text: str) -> bool:
    digits = [int(d) for d in _digits(text)]
    if len(set(digits)) == 1:
        return False
    for n in (9, 10):
        check = sum(d * w for d, w in zip(digits[:n], range(n + 1, 1, -1), strict=True)) * 10 % 11
        if check % 10 != digits[n]:
            return False
    return True


def luhn_valid(text: str) -> bool:
    digits = [int(d) for d in _digits(text)][::-1]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
    )
    return total % 10 == 0


def ean13_valid(text: str) -> bool:
    digits = [int(d) for d in _digits(text)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return len(digits) == 13 and check == digits[12]


DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("e-mail address", EMAIL, None),
    ("IBAN", IBAN, iban_valid),
    ("date of birth", BIRTH, None),
    ("case reference", CASE_REF, None),
    ("French social security number (NIR)", NIR, nir_valid),
    ("Brazilian CPF", CPF, cpf_valid),
    ("Swiss AHV number", AHV, ean13_valid),
    ("US social security number", SSN, None),
    ("Canadian social insurance number", SIN, luhn_valid),
    ("Dutch citizen service number (BSN)", BSN, bsn_valid),
    ("Maltese identity card number", MALTA_ID, None),
    ("telephone number", PHONE_INTL, phone_plausible),
    ("telephone number", PHONE_NATIONAL, None),
)


# Every detector needs a digit or an at sign; most free text has neither, so one search
# decides whether the thirteen are worth running.
_MAYBE = re.compile(r"[\d@]")


def scan_text(text: str, *, allowed: Iterable[str] = ()) -> list[PrivacyHit]:
    """Every stretch of `text` that looks like personal data, once, earliest detector first."""
    if not _MAYBE.search(text):
        return []
    allow = {a.lower() for a in allowed}
    hits: list[PrivacyHit] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern, check in DETECTORS:
        for match in pattern.finditer(text):
            value = match.group(0)
            if value.lower() in allow or (check is not None and not check(value)):
                continue
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            hits.append(PrivacyHit(kind, span[0]))
    return sorted(hits, key=lambda h: h.start)


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def iter_hits(text: str, *, allowed: Iterable[str] = ()) -> Iterator[tuple[int, int, str]]:
    """(line, column, kind) of every hit in `text`."""
    for hit in scan_text(text, allowed=allowed):
        line, column = line_and_column(text, hit.start)
        yield line, column, hit.kind
