"""Liquid as Studio runs it: the one :data:`environment` the flow checks parse with and the
runtime renders with.

Studio's Liquid is standard Liquid: ``{{ output }}`` and ``{% tags %}``, the standard filters,
plus ``to_json`` (Studio's filter that writes a value as JSON). A variable that is not there
renders as nothing, as in Studio. Dates are Studio's Pacific time: ``date`` gives ``now``,
``today`` and a Unix time in America/Los_Angeles, whatever the server's time zone. A filter
Liquid does not know passes its input through unchanged when rendering;
:func:`unknown_filters` finds them beforehand, for a warning.
Each loop (``for``, ``tablerow``) runs :data:`LOOP_LIMIT` times at most, Studio's limit: a
longer one is an error (``limit: 15`` keeps the first items). A template writes
:data:`OUTPUT_LIMIT` characters at most (a ``capture`` as many), and its ``assign`` and
``capture`` tags hold as many bytes: more is an error too. So is a filter making more text
than that: ``replace``, ``join``, ``concat`` and ``date``, which can multiply what they are
given, refuse it before it is made.

Comparisons (``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``case``/``when``) between a number
and text that reads as one (``"3"``, ``" -1.5 "``) compare the two numbers, so that
``{% if widgets.menu.Digits > 2 %}`` holds when the caller pressed 3, however many digits
the text has; a ``when`` listing both forms (``when 2, "2"``) renders its block once. An order
that cannot be made (text that is not a number, a list, ``true`` or ``false``) does not hold,
where plain Liquid raises an error; ``contains`` on a number looks in its text. Values of one
type compare as Liquid compares them (``"10" < "9"``, as text).

:func:`evaluate` gives what a template that only outputs one number gives, as a number
(``{{ flow.variables.count | plus: 1 }}``), for Set Variables.

:func:`render_markup` renders a template whose own text is markup (SSML in text to say): what
its Liquid outputs (a caller's words, a message, an HTTP answer) is escaped, so that it stays
text inside that markup.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from decimal import Decimal, DecimalException
from functools import lru_cache, wraps
from io import StringIO
from itertools import repeat
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liquid import (
    BoundTemplate,
    Environment,
    Expression,
    Markup,
    Mode,
    Node,
    RenderContext,
    Undefined,
    is_undefined,
    soft_str,
)
from liquid import builtin as liquid_filters
from liquid.builtin import date as liquid_date
from liquid.builtin.content import ContentNode
from liquid.builtin.expressions.logical import (
    ContainsExpression,
    EqExpression,
    GeExpression,
    GtExpression,
    LeExpression,
    LtExpression,
    NeExpression,
    _contains,
    _eq,
    _le,
    _lt,
)
from liquid.builtin.expressions.primitive import RangeLiteral
from liquid.builtin.output import OutputNode
from liquid.builtin.tags.case_tag import _AnyExpression
from liquid.builtin.tags.for_tag import ForNode
from liquid.builtin.tags.tablerow_tag import TablerowNode
from liquid.exceptions import (
    LiquidError,
    LiquidTypeError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    TemplateNotFoundError,
)
from liquid.filter import sequence_filter, string_filter, with_environment
from liquid.stringify import to_liquid_string
from liquid.token import Token

from switchboard.callbacks.studio.definition import StudioError


class TemplateError(StudioError):
    """A Liquid template that cannot be parsed (``syntax=True``) or rendered. ``str()`` is one
    line: what is wrong and, when known, where (line and column in the template)."""

    def __init__(self, problem: str, *, line: int | None = None, column: int | None = None,
                 syntax: bool = True) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        self.syntax = syntax
        where = f" at line {line}, column {column}" if line is not None else ""
        kind = "Liquid syntax error" if syntax else "Liquid error"
        super().__init__(f"{kind}{where}: {problem}")


def _plain(value: Any) -> Any:
    if is_undefined(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(value: object) -> str:
    """Studio's ``to_json`` filter: the value as JSON (``null`` for a missing variable and,
    as JavaScript's ``JSON.stringify`` writes them, for ``NaN`` and an infinite number)."""
    return json.dumps(_plain(value), ensure_ascii=False, default=str)


def _pacific() -> tzinfo:
    try:
        return ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:  # no time zone database: python-dateutil's own copy
        from dateutil import tz

        found = tz.gettz("America/Los_Angeles")
        if found is None:
            raise
        return found


#: Studio's time zone for the dates of its Liquid.
PACIFIC = _pacific()


@with_environment
def date(value: object, fmt: object, *, environment: Environment) -> str:
    """Liquid's ``date`` as Studio runs it: ``now``, ``today`` and a Unix time (a whole number
    of seconds) are in Pacific time; a date and time written out keeps its own offset. A
    format that could write more than :data:`OUTPUT_LIMIT` characters is refused."""
    if isinstance(fmt, str) and len(fmt) > _SHORT_FORMAT and _most_written(fmt) > OUTPUT_LIMIT:
        raise _too_long()
    moment: object = value
    if value in ("now", "today"):
        moment = datetime.now(PACIFIC)
    elif (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.isascii() and value.isdigit()):
        try:
            moment = datetime.fromtimestamp(int(value), PACIFIC)
        except (OverflowError, OSError, ValueError):
            moment = int(value)  # no such time: Liquid outputs the number unchanged
    try:
        return liquid_date(moment, fmt, environment=environment)
    except OverflowError:  # text read as a number past any calendar (``'-1e30'``)
        return str(value)


#: Studio's limit on the iterations of one Liquid loop.
LOOP_LIMIT = 15
#: The most characters a template may write (and a ``capture`` tag in it), and the most bytes
#: its ``assign`` and ``capture`` may hold (as ``sys.getsizeof`` counts them): far above what
#: a message, a prompt or a request body takes, and a bound on what loops nested in loops, or
#: text doubled at each turn, could make a worker hold.
OUTPUT_LIMIT = 256 * 1024


#: A template with this many outputs or fewer and no loop is measured once it is written: it
#: holds this many times :data:`OUTPUT_LIMIT` at most before it is refused, where counting
#: each write would cost every render some 10 %.
FEW_OUTPUTS = 16


def _too_long() -> OutputStreamLimitError:
    return OutputStreamLimitError("output limit reached", token=None)


#: StringIO's own ``write``, called without ``super()``'s lookup at each write.
_write = StringIO.write


class _Output(StringIO):
    """What a template writes, counted as it is written: :data:`OUTPUT_LIMIT` characters at
    most. Characters, not the UTF-8 bytes python-liquid's own ``output_stream_limit`` counts:
    those cannot be counted for text holding a lone UTF-16 surrogate, which a caller's text
    can hold."""

    def write(self, text: str) -> int:
        if self.tell() + len(text) > OUTPUT_LIMIT:  # tell(): the characters written so far
            raise _too_long()
        return _write(self, text)


class _StudioContext(RenderContext):
    """Counts each loop on its own, as Studio limits each loop (python-liquid's own limit
    would count a nested loop's iterations times its parents'); a ``capture`` writes into an
    :class:`_Output` of its own."""

    def get_buffer(self, buf: Any = None) -> StringIO:
        return _Output()

    def raise_for_loop_limit(self, length: int = 1) -> None:
        limit = self.env.loop_iteration_limit
        if limit is not None and length > limit:
            raise LoopIterationLimitError(
                f"a loop of {length} iterations, more than Studio's {limit} (add "
                f"'limit: {limit}' to the loop to take the first {limit})", token=None)


#: Text that reads as a number, for a comparison with one: ``3``, ``-1.5``, `` +2 ``.
_NUMBER = re.compile(r"\s*[+-]?\d+(?:\.\d+)?\s*", re.ASCII)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _read(text: str, number: object) -> float | Decimal | None:
    """``text`` as a number to compare with ``number``: for a float, the float that text
    gives (as a JSON number's text does); else, or past a float's range, exactly."""
    if _NUMBER.fullmatch(text) is None:
        return None
    if isinstance(number, float):
        value = float(text)
        if math.isfinite(value):
            return value
    return Decimal(text)


def _numbers(left: object, right: object) -> tuple[Any, Any] | None:
    """``left`` and ``right`` as two numbers when one is a number and the other text that
    reads as one; None otherwise."""
    if isinstance(left, str) and _is_number(right):
        left = _read(left, right)
    elif isinstance(right, str) and _is_number(left):
        right = _read(right, left)
    else:
        return None
    return None if left is None or right is None else (left, right)


def _equal(left: object, right: object) -> bool:
    numbers = _numbers(left, right)
    if numbers is not None:
        return bool(numbers[0] == numbers[1])
    return bool(_eq(left, right))


def _less(token: Token, left: object, right: object) -> bool:
    numbers = _numbers(left, right)
    if numbers is not None:
        return bool(numbers[0] < numbers[1])
    if isinstance(left, bool) or isinstance(right, bool):  # as ``<=`` has it: no order
        return False
    try:
        return bool(_lt(token, left, right))
    except LiquidTypeError:
        return False


def _at_most(left: object, right: object) -> bool:
    numbers = _numbers(left, right)
    if numbers is not None:
        return bool(numbers[0] <= numbers[1])
    return bool(_le(left, right))


def _has(token: Token, left: object, right: object) -> bool:
    if _is_number(left):
        left = str(left)
    try:
        return bool(_contains(token, left, right))
    except (LiquidTypeError, TypeError):  # TypeError: an object or array is never a key
        return False


class _Comparison:
    """Evaluates both sides, then :meth:`compare` them as Studio does."""

    __slots__ = ()
    token: Token
    left: Expression
    right: Expression

    def compare(self, left: object, right: object) -> bool:
        raise NotImplementedError

    def evaluate(self, context: RenderContext) -> bool:
        return self.compare(self.left.evaluate(context), self.right.evaluate(context))

    async def evaluate_async(self, context: RenderContext) -> bool:
        return self.compare(await self.left.evaluate_async(context),
                            await self.right.evaluate_async(context))


class _Equal(_Comparison, EqExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return _equal(left, right)


class _NotEqual(_Comparison, NeExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return not _equal(left, right)


class _Less(_Comparison, LtExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return _less(self.token, left, right)


class _Greater(_Comparison, GtExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return _less(self.token, right, left)


class _AtMost(_Comparison, LeExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return _at_most(left, right)


class _AtLeast(_Comparison, GeExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return _at_most(right, left)


class _Contains(_Comparison, ContainsExpression):
    __slots__ = ()

    def compare(self, left: object, right: object) -> bool:
        return _has(self.token, left, right)


def _when(left: object, values: list[object]) -> list[bool]:
    """Which of a ``when``'s ``values`` match the ``case``'s ``left``: Liquid renders the
    block once for each (``when 1, 1``). Values equal to it only as numbers (``when 2, "2"``
    for ``"2"``) count once in all, so that listing both forms renders the block once."""
    matches = [_eq(left, right) for right in values]
    if not any(matches) and any(_equal(left, right) for right in values):
        return [True]
    return matches


class _AnyOf(_AnyExpression):
    """A ``when``'s values, compared with the ``case`` as ``==`` compares (see
    :func:`_when`)."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> list[bool]:
        return _when(self.left.evaluate(context),
                     [right.evaluate(context) for right in self.expressions])

    async def evaluate_async(self, context: RenderContext) -> list[bool]:
        return _when(await self.left.evaluate_async(context),
                     [await right.evaluate_async(context) for right in self.expressions])


#: The most numbers a range (``(1..n)``) may hold: a filter makes a list of them
#: (``(1..n) | join``), and ``n`` may come from a caller (``widgets.menu.Digits``).
RANGE_LIMIT = 1000


class _Range(RangeLiteral):
    """A range of :data:`RANGE_LIMIT` numbers at most; a longer one is an error."""

    __slots__ = ()

    def _make_range(self, start: Any, stop: Any) -> range:
        numbers = super()._make_range(start, stop)
        count = numbers.stop - numbers.start  # len() cannot count past a C integer
        if count > RANGE_LIMIT:
            raise LiquidError(f"a range of {count} numbers, more than {RANGE_LIMIT}",
                              token=self.token)
        return numbers


#: Each of Liquid's comparisons, and Studio's in its place (same fields, same slots); and
#: the range, limited.
_STUDIO_EXPRESSIONS: dict[type[Expression], type[Expression]] = {
    EqExpression: _Equal, NeExpression: _NotEqual, LtExpression: _Less,
    GtExpression: _Greater, LeExpression: _AtMost, GeExpression: _AtLeast,
    ContainsExpression: _Contains, _AnyExpression: _AnyOf, RangeLiteral: _Range,
}


def _as_studio(template: _StudioTemplate) -> None:
    """Turns each comparison of ``template``'s tags into Studio's, and each range into a
    limited one; a template holding a loop has its writes :attr:`~_StudioTemplate.counted`."""
    static = RenderContext(template)
    nodes: list[Node] = list(template.nodes)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ForNode | TablerowNode):
            template.counted = True
        nodes.extend(node.children(static, include_partials=False))
        expressions = list(node.expressions())
        while expressions:
            expression = expressions.pop()
            studio = _STUDIO_EXPRESSIONS.get(type(expression))
            if studio is not None:
                expression.__class__ = studio
            expressions.extend(expression.children())


class _StudioTemplate(BoundTemplate):
    """Writes :data:`OUTPUT_LIMIT` characters at most: a template whose writes are
    :attr:`counted` is stopped as it writes more (an :class:`_Output`); any other writes each
    of its few outputs once, and is measured when it is done."""

    context_class = _StudioContext
    #: Whether the template's writes are counted as they are made (set as it is parsed): it
    #: holds a ``for`` or ``tablerow`` loop, or more than :data:`FEW_OUTPUTS` outputs, each of
    #: which could write a value as long as the limit.
    counted = False

    def render(self, *args: Any, **kwargs: Any) -> str:
        context = self.context_class(self, globals=self.make_globals(dict(*args, **kwargs)))
        output = _Output() if self.counted else StringIO()
        self.render_with_context(context, output)
        return _written(output)

    async def render_async(self, *args: Any, **kwargs: Any) -> str:
        context = self.context_class(self, globals=self.make_globals(dict(*args, **kwargs)))
        output = _Output() if self.counted else StringIO()
        await self.render_with_context_async(context, output)
        return _written(output)


def _written(output: StringIO) -> str:
    if output.tell() > OUTPUT_LIMIT:
        raise _too_long()
    return output.getvalue()


class _StudioEnvironment(Environment):
    template_class = _StudioTemplate
    loop_iteration_limit = LOOP_LIMIT
    local_namespace_limit = OUTPUT_LIMIT

    def from_string(self, source: str, *args: Any, **kwargs: Any) -> BoundTemplate:
        template = super().from_string(source, *args, **kwargs)
        if not isinstance(template, _StudioTemplate):
            return template
        if "{%" in source or ".." in source:  # comparisons and loops are in tags, ranges ".."
            _as_studio(template)
        if source.count("{{") > FEW_OUTPUTS:
            template.counted = True
        return template


# Filters that can make text longer than what they are given. Each refuses a result of more
# than OUTPUT_LIMIT characters, so that no value a template makes holds more (an array
# counted by _weight), and whatever writes one as text makes a few times that at most.


def _measured(liquid_filter: Callable[..., Any]) -> Callable[..., Any]:
    """``liquid_filter`` (python-liquid's), refusing a text of more than :data:`OUTPUT_LIMIT`
    characters once it is made: for a filter whose result is at most a few times as long as
    what it is given (``escape``, ``url_encode``: twelve times at most, for a character of
    four UTF-8 bytes), so that only a few times the limit is ever built."""

    @wraps(liquid_filter)
    def measured(*args: Any, **kwargs: Any) -> Any:
        result = liquid_filter(*args, **kwargs)
        if isinstance(result, str) and len(result) > OUTPUT_LIMIT:
            raise _too_long()
        return result

    return measured


def _as_replaced(text: str, new: str) -> str:
    """``new`` as it lands in ``text``: escaped when ``text`` is markup, as
    ``Markup.replace`` escapes it (five characters for one at most: ``&amp;``)."""
    return Markup.escape(new) if isinstance(text, Markup) else new


@string_filter
def replace(val: str, seq: object, sub: object = "") -> str:
    """Liquid's ``replace``, refusing before it is made a result of more than
    :data:`OUTPUT_LIMIT` characters: each occurrence of ``seq`` takes ``sub``'s length, and an
    empty ``seq`` occurs before each character and at the end (``'ab' | replace: '', '-'``
    gives ``-a-b-``, as in Ruby's Liquid)."""
    new = soft_str(sub)
    if (len(val) + 1) * (5 * len(new) + 1) > OUTPUT_LIMIT:  # the most it could make
        old = soft_str(seq)
        longer_by = len(_as_replaced(val, new)) - len(old)
        if longer_by > 0 and len(val) + str.count(val, old) * longer_by > OUTPUT_LIMIT:
            raise _too_long()
    return _liquid_replace(val, seq, sub)


@string_filter
def replace_first(val: str, seq: object, sub: object = "") -> str:
    """Liquid's ``replace_first``, refusing before it is made a result of more than
    :data:`OUTPUT_LIMIT` characters."""
    new = soft_str(sub)
    if len(val) + 5 * len(new) > OUTPUT_LIMIT:  # the most it could make
        old = soft_str(seq)
        if len(val) + len(_as_replaced(val, new)) - len(old) > OUTPUT_LIMIT and old in val:
            raise _too_long()
    return _liquid_replace_first(val, seq, sub)


#: python-liquid's ``replace`` and ``replace_first`` themselves, without the ``string_filter``
#: that Studio's own have already applied.
_liquid_replace = liquid_filters.replace.__wrapped__
_liquid_replace_first = liquid_filters.replace_first.__wrapped__


@with_environment
@sequence_filter
def join(left: list[object], separator: object = " ", *, environment: Environment) -> str:
    """Liquid's ``join`` as python-liquid writes it, refusing before it is made a result of
    more than :data:`OUTPUT_LIMIT` characters: the separator comes between each two items,
    which makes a long separator and a long array a text as long as the two multiplied."""
    texts = [item if isinstance(item, str) else str(item) for item in left]
    glue = separator if isinstance(separator, str) else str(separator)
    if environment.autoescape and glue == " ":
        glue = Markup(" ")
    glued = len(glue) * max(len(texts) - 1, 0)
    length = sum(map(len, texts))
    if isinstance(glue, Markup) and 5 * length + glued > OUTPUT_LIMIT:
        texts = list(map(Markup.escape, texts))  # as Markup.join escapes them: "&" as "&amp;"
        length = sum(map(len, texts))
    if length + glued > OUTPUT_LIMIT:
        raise _too_long()
    return glue.join(texts)


def _leaf_weight(value: object) -> int:
    """:func:`_weight` of a value that is neither text, an array nor an object."""
    if value is None or isinstance(value, bool):
        return 4
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 1  # log10(2) > 0.3
    if isinstance(value, float):
        return len(repr(value))
    if isinstance(value, Decimal):
        return len(value.as_tuple().digits) or 1
    return 1


def _weight(value: object) -> int:
    """How much ``value`` holds, counted as it would be written: each text its length (one
    at least), each number its digits, ``nil``, ``true`` and ``false`` four, each array and
    object one and its items, an item held twice counted twice. The items python-liquid's
    array filters flatten it into are fewer, and the text written for it (``{{ a }}``,
    ``a | join``, ``a | to_json``) a few times more at most. Counting stops past
    :data:`OUTPUT_LIMIT`."""
    total = 0
    pending = [value]
    while pending and total <= OUTPUT_LIMIT:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item) or 1
            continue
        if isinstance(item, list | tuple):
            items: Any = item
        elif isinstance(item, Mapping):
            items = [*item.keys(), *item.values()]
        else:
            total += _leaf_weight(item)
            continue
        total += 1
        if total + len(items) > OUTPUT_LIMIT:  # each counts one at least
            return total + len(items)
        if all(map(isinstance, items, repeat(str))):  # texts only, counted at once
            total += sum(map(len, items)) + items.count("")
        else:
            pending.extend(items)
    return total


def concat(sequence: object, *args: Any, **kwargs: Any) -> list[object]:
    """Liquid's ``concat``, refusing an array of more than :data:`OUTPUT_LIMIT` characters
    (as :func:`_weight` counts them): ``{% assign a = a | concat: a %}`` doubles what ``a``
    would write with each turn of a loop, with no more memory than its items' references."""
    joined = liquid_filters.concat(sequence, *args, **kwargs)
    if _weight(joined) > OUTPUT_LIMIT:
        raise _too_long()
    return joined


#: A ``date`` format this long or shorter writes less than :data:`OUTPUT_LIMIT` characters:
#: Python's ``strftime`` writes less than 512 times its format, once ``%f``, ``%z`` and
#: ``%Z`` (which Python writes itself) have made it ten times longer at most.
_SHORT_FORMAT = 32

#: A ``strftime`` directive: ``%``, glibc's flags, a width, modifiers, the conversion.
_DIRECTIVE = re.compile(r"%[-_0^#+]*(\d*)[EO]*.?", re.DOTALL)

#: The most any directive without a width writes (``%c`` in any locale, a zone's name).
_DIRECTIVE_MOST = 64


def _most_written(fmt: str) -> int:
    """The most characters ``strftime`` could write for ``fmt``: each directive twice its
    width (glibc pads both the sign and the digits of ``%z`` to it) or
    :data:`_DIRECTIVE_MOST`, and the text around as it is."""
    most = len(fmt)
    for directive in _DIRECTIVE.finditer(fmt):
        width = directive.group(1)
        most += OUTPUT_LIMIT + 1 if len(width) > 6 else max(2 * int(width or 0),
                                                              _DIRECTIVE_MOST)
    return most


#: The filters registered in Studio's environment in place of python-liquid's: those that
#: can make text longer than what they are given, bounded (``append`` and ``prepend`` too: a
#: chain of them in one output adds what it is given at each link).
_BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
    "replace": replace,
    "replace_first": replace_first,
    "join": join,
    "concat": concat,
    **{name: _measured(getattr(liquid_filters, name)) for name in (
        "append", "prepend", "replace_last", "truncate", "truncatewords", "escape",
        "escape_once", "newline_to_br",
        "strip_newlines", "url_encode", "base64_encode", "base64_url_safe_encode", "escapejs",
        "upcase", "downcase", "capitalize")},
    "to_json": _measured(to_json),
    "date": date,
}


def _as_it_is(value: object) -> object:
    return value


def _environment(*, autoescape: bool = False) -> Environment:
    env = _StudioEnvironment(tolerance=Mode.STRICT, undefined=Undefined, strict_filters=False,
                             autoescape=autoescape)
    env.filters.update(_BOUNDED_FILTERS)
    if autoescape:
        # Studio has no ``safe``: a value it is given stays text, escaped like any other.
        env.filters["safe"] = _as_it_is
    return env


environment: Environment = _environment()
"""The Liquid environment configured as Studio's."""

markup_environment: Environment = _environment(autoescape=True)
"""Studio's environment escaping what Liquid outputs (``&``, ``<``, ``>`` and quotes as XML
escapes); the template's own text, string literals included, stays as written."""


def _location(error: LiquidError) -> tuple[int | None, int | None]:
    token = error.token
    if token is None or token.start_index < 0 or not token.source:
        return None, None
    index = token.start_index
    line = token.source.count("\n", 0, index) + 1
    column = index - (token.source.rfind("\n", 0, index) + 1) + 1
    return line, column


def _error(error: LiquidError, *, syntax: bool) -> TemplateError:
    line, column = _location(error)
    problem = " ".join(str(error.message).split())
    if isinstance(error, OutputStreamLimitError):
        problem = f"the template writes more than {OUTPUT_LIMIT} characters"
    elif isinstance(error, LocalNamespaceLimitError):
        problem = f"its assign and capture tags hold more than {OUTPUT_LIMIT} bytes"
    elif isinstance(error, TemplateNotFoundError):  # ``include`` and ``render``
        problem = (f"no template {problem!r}: a flow's Liquid cannot include or render "
                   "another template")
    return TemplateError(problem, line=line, column=column, syntax=syntax)


@lru_cache(maxsize=2048)
def parse(template: str) -> BoundTemplate:
    """The parsed template, or :class:`TemplateError` saying where its syntax is wrong.
    Parsed templates are cached: a flow's texts are parsed once."""
    try:
        return environment.from_string(template)
    except LiquidError as error:
        raise _error(error, syntax=True) from None


#: What Python raises inside Liquid's filters and tags given values they cannot take (``'inf'
#: | ceil``, ``'abc' | uniq: 1e30``, an object ``contains`` an object, a number too long to
#: write, a value nested too deeply), which Liquid lets through.
_PYTHON_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, RecursionError)


def render(template: str, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context`` (Studio's ``flow``, ``trigger``, ``widgets``,
    ``contact``): :class:`TemplateError` if it does not parse or a filter fails."""
    bound = parse(template)
    try:
        return bound.render(**context)
    except LiquidError as error:
        raise _error(error, syntax=False) from None
    except _PYTHON_ERRORS as error:
        raise _python_error(error) from None


def _python_error(error: Exception) -> TemplateError:
    """One of :data:`_PYTHON_ERRORS` as a :class:`TemplateError` of one line."""
    problem = " ".join(str(error).split())
    if "integer string conversion" in problem:
        problem = (f"a number of more than {sys.get_int_max_str_digits()} digits cannot be "
                   "written out")
    elif isinstance(error, DecimalException):
        problem = "a calculation with a number that is infinite, not a number or too large"
    elif isinstance(error, RecursionError):
        problem = "a value nested too deeply to render"
    elif not isinstance(error, ValueError):
        problem = f"{type(error).__name__}: {problem}"
    return TemplateError(problem, syntax=False)


def evaluate(template: str, context: Mapping[str, Any]) -> Any:
    """What ``template`` gives with ``context``: the number, as a number, when the template
    only outputs one (``{{ flow.variables.count | plus: 1 }}`` gives 4, ``{{ 2 }}`` 2) that
    writes the text :func:`render` gives and JSON can hold; else that text (``nan``).
    :class:`TemplateError` as for :func:`render`."""
    bound = parse(template)
    nodes = bound.nodes
    if len(nodes) != 1 or nodes[0].__class__ is not OutputNode:
        return render(template, context)
    scope = bound.context_class(bound, globals=bound.make_globals(context))
    try:
        value = nodes[0].expression.evaluate(scope)
        text = to_liquid_string(value, autoescape=False)
    except (LiquidError, *_PYTHON_ERRORS):
        return render(template, context)  # which raises it again, saying where
    if not _is_number(value):
        if len(text) > OUTPUT_LIMIT:
            raise _error(_too_long(), syntax=False)
        return text
    if isinstance(value, Decimal):
        if not value.is_finite():
            return text
        value = int(value) if value == value.to_integral_value() and "." not in text else (
            float(value))
    if isinstance(value, float) and not math.isfinite(value):
        return text  # no JSON number: nan, inf
    return value if str(value) == text else text


@lru_cache(maxsize=512)
def _parse_markup(template: str) -> BoundTemplate:
    try:
        return markup_environment.from_string(template)
    except LiquidError as error:
        raise _error(error, syntax=True) from None


def render_markup(template: str, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context`` for a template whose text is markup: every
    value Liquid outputs is escaped, so that markup can come only from the template itself
    (``<break/>{{ widgets.gather.SpeechResult }}`` gives ``<break/>&lt;break/&gt;`` when the
    caller said ``<break/>``). :class:`TemplateError` as for :func:`render`."""
    bound = _parse_markup(template)
    try:
        return bound.render(**context)
    except LiquidError as error:
        raise _error(error, syntax=False) from None
    except _PYTHON_ERRORS as error:
        raise _python_error(error) from None


#: Liquid's tags that bring in another template, which a flow's Liquid has none of: each
#: fails as it renders.
INCLUDING_TAGS = ("include", "render")


def unknown_filters(template: str) -> list[str]:
    """The filters ``template`` uses that :data:`environment` does not have (they would output
    their input unchanged), in the order they first appear."""
    analysis = parse(template).analyze(include_partials=False)
    return [name for name in analysis.filters if name not in environment.filters]


def including_tags(template: str) -> list[str]:
    """The tags of :data:`INCLUDING_TAGS` that ``template`` uses, in the order they first
    appear: a template holding one can never render."""
    analysis = parse(template).analyze(include_partials=False)
    return [name for name in analysis.tags if name in INCLUDING_TAGS]


def written_as_it_is(template: str) -> list[str]:
    """The texts ``template`` writes as they are, in every branch: what lies outside its
    outputs and tags (and inside ``raw``), not a comment nor a string in a tag."""
    bound = parse(template)
    static = RenderContext(bound)
    texts: list[str] = []
    nodes: list[Node] = list(bound.nodes)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ContentNode):
            texts.append(node.text)
        nodes.extend(node.children(static, include_partials=False))
    return texts


__all__ = ["INCLUDING_TAGS", "LOOP_LIMIT", "OUTPUT_LIMIT", "PACIFIC", "TemplateError", "date",
           "environment", "evaluate", "including_tags", "markup_environment", "parse",
           "render", "render_markup", "to_json", "unknown_filters", "written_as_it_is"]
