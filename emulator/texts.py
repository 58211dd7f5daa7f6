"""What people type into free-text fields (notes, names, descriptions, hints, reasons, comments):
`TypedText`, which the builders ask for such text.

Real accounts hold whatever their users typed, so the emulator does too, instead of text that
agrees with the connector by construction: the words the connector's response filters look for
("retention", "retry", "not valid JSON", "rate limit", "error"), quotes, braces and Jinja-looking
text, backslashes, line breaks, accents, CJK and emoji, and text up to the API's maximum length
(the OpenAPI document's `maxLength`, counted in UTF-16 code units as .NET counts it).

`TypedText` draws from a generator of its own (`random.Random(f"{seed}:texts:{name}")`), so the
other values of a seed stay what they were.
"""

from __future__ import annotations

import random

# Typed by hand; each one holds something a careless pipeline gets wrong.
TYPED = [
    "Retention policy: keep for 30 days, then archive",
    "Audit log retention is 35 days on this plan",
    'Retry after the "rate limit" error (HTTP 429)',
    "Rate limit hit during the launch; retry later",
    "Backend answered: not valid JSON",
    'Error: "Unexpected token } in JSON at position 0"',
    "error rate > 5% → roll back",
    "Don't ship before QA's sign-off",
    'Set "beta" to \'on\' for the "Pro" plan',
    "Template: Hello {{ config }}!",
    "{% if user.beta %}on{% else %}off{% endif %}",
    "{{ response | string | lower }} and {# not a comment #}",
    "Empty object {} and array [] and {{}}",
    '{"theme": "dark", "limit": 10}',
    "Path C:\\configcat\\flags.json and \\n is not a newline",
    "Regex ^\\d+$ and \\u0041 written out",
    "First line\nsecond line\n\tindented",
    "Windows line\r\nend",
    "Árvíztűrő tükörfúrógép — café crème brûlée",
    "Zoë's naïve façade, Øresund, Straße",
    "新しいチェックアウトを有効にする",
    "功能开关：仅限内部用户",
    "베타 사용자만",
    "Ship it 🚀🎉 (finally!)",
    "👩‍💻 dev team · 🇭🇺 🇩🇪 🇳🇱",
    "Combining: e\u0301 vs \u00e9, NBSP:\u00a0here, zero width:\u200bjoin",
    "Line\u2028separator and paragraph\u2029separator",
    "<script>alert('x')</script> & &amp; &lt;b&gt;",
    '100% of users; 50 % of "EU"; $HOME; `rm -rf`; ${{ secrets.TOKEN }}',
    "   leading and trailing spaces   ",
    "null",
    "",
]

# Sentences that fill a text up to a maximum length.
FILLER = (
    "Rolled out in stages after the retention review: retry the rate limit test, check the error "
    'budget, and read the {{ config }} notes ("not valid JSON" was a false alarm). '
    "Árvíztűrő tükörfúrógép — naïve café. "
)


def utf16_length(text: str) -> int:
    """The length .NET gives a string: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def long_text(length: int) -> str:
    """`length` UTF-16 code units of typed prose (BMP characters only, so no pair is split)."""
    text = FILLER * (length // len(FILLER) + 1)
    return text[:length]


class TypedText:
    """Free text for one seed: mostly what the caller would write, sometimes what users type."""

    def __init__(self, seed: int, name: str = "") -> None:
        self.rng = random.Random(f"{seed}:texts:{name}")
        self.cursor = self.rng.randrange(len(TYPED))
        # field -> how many texts were asked for it, -1 once one was as long as allowed
        self.asked: dict[str, int] = {}

    def typed(self) -> str:
        """The next typed text; every one comes up in turn, from a seeded starting point."""
        text = TYPED[self.cursor % len(TYPED)]
        self.cursor += 1
        return text

    def note(
        self,
        plain: str | None,
        *,
        probability: float = 0.3,
        max_length: int = 0,
        field: str = "",
    ) -> str:
        """`plain`, or (with `probability`) a typed text alone or around `plain`, or (now and
        then, where the API has a `max_length`) text of exactly that length: about 3 in 100, and
        the fifth text of a `field` if none before it was that long."""
        roll = self.rng.random()
        if max_length:
            asked = self.asked.get(field, 0)
            if roll < 0.03 or asked == 4:
                self.asked[field] = -1
                return long_text(max_length)
            self.asked[field] = asked + 1 if asked >= 0 else -1
        if roll >= probability:
            return plain if plain is not None else self.typed()
        typed = self.typed()
        if plain and self.rng.random() < 0.5:
            text = f"{plain} — {typed}"
            if max_length and utf16_length(text) > max_length:
                return plain
            return text
        return typed if typed or plain is None else plain

    def optional(
        self,
        plain: str | None,
        *,
        probability: float = 0.3,
        max_length: int = 0,
        field: str = "",
    ) -> str | None:
        """Like `note`, but None stays None."""
        if plain is None:
            return None
        return self.note(plain, probability=probability, max_length=max_length, field=field)

    def name(self, plain: str, *, probability: float = 0.2, max_length: int = 255) -> str:
        """`plain`, sometimes followed by a typed text (never empty, at most `max_length`)."""
        if self.rng.random() >= probability:
            return plain
        typed = " ".join(self.typed().split()) or "(copy)"
        text = f"{plain} {typed}"
        while utf16_length(text) > max_length:
            text = text[:-1]
        return text
