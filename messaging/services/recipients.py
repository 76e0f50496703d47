"""Who a send goes to and what it costs: the one home of the rules the send service charges by
(message_submit) and the send page's counter and confirmation step show beforehand (send_quote).

Numbers are read by core.phone.parse_recipient (with the account's default country in the portal,
E.164 only through the API), each once; the contacts of the chosen groups join them; opted-out
numbers stay in the batch as free `rejected` messages (SPEC §3); every other message costs its
destination's price per segment."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from contacts.selectors import group_numbers as group_numbers_of
from contacts.selectors import opted_out as opted_out_numbers
from core.errors import ApplicationError, TooLarge
from core.phone import parse_recipient
from messaging.pricing import PriceList
from messaging.segments import SegmentInfo, count_segments


@dataclass
class Resolved:
    numbers: list[tuple[str, str]]  # (E.164, ISO country), each number once, in the order given
    invalid: list[str]  # what did not parse, as written (at most 32 characters each)


def recipients_resolve(to: list[str], group_numbers: list[str] | None = None, *, region: str = "") -> Resolved:
    """The distinct recipients of `to` and the groups' numbers, and the entries that are not
    valid numbers. Refuses (400) a request with none at all and (413) one over the limit."""
    if not to and not group_numbers:
        if group_numbers is not None:
            raise ApplicationError(
                "The contact groups have no contacts.", code="invalid_request", errors={"to_groups": ["No contacts."]}
            )
        raise ApplicationError("Give at least one recipient.", code="invalid_request", errors={"to": ["Required."]})
    if len(to) > settings.SMS_MAX_RECIPIENTS:
        raise TooLarge(
            f"At most {settings.SMS_MAX_RECIPIENTS:,} recipients per request; this one has {len(to):,}.",
            code="too_many_recipients",
        )
    seen: dict[str, str] = {}
    invalid: list[str] = []
    for raw in to:
        parsed = parse_recipient(raw, region)
        if parsed is None:
            invalid.append(str(raw)[:32])
        else:
            seen.setdefault(parsed[0], parsed[1])
    for number in group_numbers or ():
        # Stored as E.164 by the contacts service; parsed again for the country (the price).
        if number not in seen:
            parsed = parse_recipient(number)
            if parsed is None:
                invalid.append(number)
            else:
                seen[parsed[0]] = parsed[1]
    if not invalid and len(seen) > settings.SMS_MAX_RECIPIENTS:  # (invalid numbers are refused first)
        raise TooLarge(
            f"At most {settings.SMS_MAX_RECIPIENTS:,} recipients per request; with its contact groups this one "
            f"has {len(seen):,}.",
            code="too_many_recipients",
        )
    return Resolved(numbers=list(seen.items()), invalid=invalid)


def invalid_recipients_error(invalid: list[str], *, region: str = "") -> ApplicationError:
    shown = ", ".join(invalid[:20]) + (f" and {len(invalid) - 20} more" if len(invalid) > 20 else "")
    written = "valid phone numbers" if region else "valid phone numbers in international (E.164) format"
    return ApplicationError(
        f"Not {written}: {shown}.",
        code="invalid_recipients",
        errors={"to": [f"Invalid number: {number}" for number in invalid[:100]]},
    )


@dataclass
class Priced:
    """A batch's recipients with the price of each: `costs[i]` is the cost of `numbers[i]` (0 for
    an opted-out number)."""

    numbers: list[tuple[str, str]]
    opted_out: set[str]
    costs: list[Decimal]
    total: Decimal

    @property
    def going(self) -> int:
        """How many messages go ahead (are charged): all but the opted-out numbers."""
        return len(self.numbers) - len(self.opted_out)


def recipients_price(
    *, account_id: int, numbers: list[tuple[str, str]], info: SegmentInfo, prices: PriceList
) -> Priced:
    """What each recipient costs: its country's price per segment, nothing for a number opted out
    of the account's messages (one query for all of them)."""
    opted_out = opted_out_numbers(account_id=account_id, phones=[number for number, _ in numbers])
    costs: list[Decimal] = []
    total = Decimal("0")
    zero = Decimal("0")
    for number, country in numbers:
        cost = zero if number in opted_out else prices.per_segment(country) * info.segments
        costs.append(cost)
        total += cost
    return Priced(numbers=numbers, opted_out=opted_out, costs=costs, total=total)


# --- The send page's quote ---------------------------------------------------------------------


@dataclass
class Quote:
    recipients: int = 0  # distinct valid numbers, opted-out ones included
    messages: int = 0  # charged: the recipients less the opted-out ones
    opted_out: int = 0
    invalid: list[str] = field(default_factory=list)
    segments: int = 0
    encoding: str = "GSM-7"
    cost: Decimal = Decimal("0")
    error: str = ""  # a refusal of the whole request (an unknown group, too many recipients)

    @property
    def needs_confirmation(self) -> bool:
        """A send this big is confirmed before anything is charged (SMS_CONFIRM_ABOVE_*)."""
        points = Decimal(str(settings.SMS_CONFIRM_ABOVE_POINTS))
        return self.messages > settings.SMS_CONFIRM_ABOVE_RECIPIENTS or self.cost > points


def send_quote(*, account_id: int, to: list[str], to_groups: list[int] | None, text: str, region: str = "") -> Quote:
    """What a send of the portal would be: its distinct recipients, the opted-out and invalid
    ones, its parts and its cost, by the rules message_submit charges by. A few queries whatever
    the number of recipients (the groups' numbers, the opt-outs, the price list)."""
    info = count_segments(text or "")
    quote = Quote(segments=info.segments, encoding=info.encoding)
    try:
        group_numbers = group_numbers_of(account_id=account_id, group_ids=to_groups) if to_groups else None
        if not to and not group_numbers:
            return quote
        resolved = recipients_resolve(to, group_numbers, region=region)
    except ApplicationError as exc:
        quote.error = exc.detail
        return quote
    priced = recipients_price(account_id=account_id, numbers=resolved.numbers, info=info, prices=PriceList())
    quote.recipients, quote.messages, quote.opted_out = len(priced.numbers), priced.going, len(priced.opted_out)
    quote.invalid, quote.cost = resolved.invalid, priced.total
    return quote
