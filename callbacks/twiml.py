"""TwiML, built with lxml and checked with lxml.

Build a response by calling one method per verb; every method returns the node it was called
on, so calls chain, and ``with`` opens the element just added so that you can nest::

    r = VoiceResponse()
    r.say("Hi", voice="Polly.Joanna").pause(length=1)
    with r.gather(num_digits=1, action="/voice/menu") as g:
        g.say("Press 1")
    str(r)   # '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice=...'

Keyword attributes are snake_case and become Twilio's names (``num_digits`` -> ``numDigits``,
``from_`` -> ``from``, ``xml_lang`` -> ``xml:lang``); Twilio's own spelling works too. Values:
``True``/``False`` -> ``true``/``false``, finite numbers -> ``str()``, lists -> space-joined,
``None`` -> left out. An attribute or a child that TwiML does not allow, a value outside those
Twilio documents for the attribute, or a verb after one that ends the document (``<Hangup>``,
``<Reject>``, ``<Redirect>``) raises :class:`TwiMLError` at once. Text always goes through
lxml, so caller text is escaped and never becomes markup.
The calls are recorded as they are checked; lxml makes and writes the tree when the document
is serialised (:mod:`switchboard.callbacks.twiml_template`).

:func:`parse_twiml` reads a document back and checks it against the same vocabulary
(:mod:`switchboard.callbacks.twiml_vocabulary`).
"""

from __future__ import annotations

import json
import math
import numbers
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from difflib import get_close_matches
from typing import Any, ClassVar, Final, Literal, Self

from lxml import etree

from switchboard.callbacks.twiml_template import Call, Draft, Kind, build, kind_of, serialise
from switchboard.callbacks.twiml_vocabulary import (
    CHILD_METHODS,
    ELEMENTS,
    ENDING_VERBS,
    MESSAGING_RESPONSE,
    SECRET_ATTRIBUTES,
    VOICE_RESPONSE,
    XML_NAMESPACE,
    ElementSpec,
    method_name,
)

__all__ = [
    "DECLARATION",
    "MAX_DOCUMENT_BYTES",
    "MessagingResponse",
    "TwiML",
    "TwiMLError",
    "VoiceResponse",
    "parse_twiml",
]

DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'
_DECLARATION_BYTES: Final = DECLARATION.encode("ascii")

#: The most Twilio reads of a TwiML answer; a longer one is its error 11750.
MAX_DOCUMENT_BYTES: Final = 64 * 1024
_MAX_BODY_BYTES: Final = MAX_DOCUMENT_BYTES - len(_DECLARATION_BYTES)

#: What a keyword attribute may be given as.
AttributeValue = str | int | float | bool | Sequence[str | int | float | bool] | None

_SubElement = etree.SubElement
_tostring = etree.tostring
_TAG_OF_METHOD: Final = {
    method_name(child.tag): child.tag
    for element in ELEMENTS.values()
    for child in element.children.values()
}


class TwiMLError(ValueError):
    """TwiML that Twilio would not run: says what and where, in one line.

    ``code`` is Twilio's error code when the error comes from :func:`parse_twiml`:
    12100 (the document does not parse as a TwiML document) or 12200 (it parses but uses
    a verb, noun or attribute that TwiML does not have).
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class _NotAllowedHere(TwiMLError, AttributeError):
    """A builder method called on a node that cannot contain that child (still an AttributeError,
    so ``hasattr`` and ``getattr(node, name, default)`` keep working)."""


# --- values ---------------------------------------------------------------------------------


def _where(spec: ElementSpec) -> str:
    if spec is VOICE_RESPONSE:
        return "<Response> (voice)"
    if spec is MESSAGING_RESPONSE:
        return "<Response> (messaging)"
    return f"<{spec.tag}>"


def _allowed_children(spec: ElementSpec) -> str:
    if not spec.children:
        return "it takes no child elements"
    return "it takes " + ", ".join(f"<{tag}>" for tag in spec.children)


def _cannot_contain(spec: ElementSpec, tag: str) -> str:
    return f"{_where(spec)} cannot contain <{tag}>; {_allowed_children(spec)}"


def _display_attribute(name: str) -> str:
    return name.replace(f"{{{XML_NAMESPACE}}}", "xml:")


def _unknown_attribute(spec: ElementSpec, key: str) -> TwiMLError:
    known = sorted({k for k in spec.keywords if k.isidentifier() and k == k.lower()})
    if not known:
        return TwiMLError(f"{_where(spec)} takes no attributes, got {key!r}")
    close = get_close_matches(key, list(spec.keywords), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return TwiMLError(f"{_where(spec)} has no attribute {key!r}{hint}")


def _number(value: numbers.Number) -> str | None:
    """``str(value)`` for an int, or a finite float or Decimal; ``None`` for any other number
    (complex, a fraction, NaN, an infinity, an int too long to print), which Twilio cannot
    read, or one whose ``str()`` XML cannot carry."""
    if isinstance(value, numbers.Integral):
        pass
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
    elif not (isinstance(value, Decimal) and value.is_finite()):
        return None
    try:
        text = str(value)
    except ValueError:  # an int of more digits than sys.get_int_max_str_digits()
        return None
    return text if type(text) is str and _is_xml(text) else None


def _not_a_number(where: str, value: numbers.Number) -> TwiMLError:
    try:
        shown = f"{value!r:.40}"
    except Exception:  # an int too long to print, say
        shown = "given"
    if not shown.isprintable():
        shown = ascii(shown)
    return TwiMLError(
        f"{where}: cannot use the {type(value).__name__} {shown} "
        "(give a finite int, float or Decimal)"
    )


def _scalar(spec: ElementSpec, key: str, value: object) -> str:
    if isinstance(value, str):  # its characters, as for text: a (str, Enum) member is its value
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Number):
        text = _number(value)
        if text is not None:
            return text
        raise _not_a_number(f"{_where(spec)} attribute {key!r}", value)
    raise TwiMLError(
        f"{_where(spec)} attribute {key!r}: cannot use a {type(value).__name__!r} value "
        "(give a str, number, bool or a list of those)"
    )


def _attribute_value(spec: ElementSpec, key: str, value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join([_scalar(spec, key, item) for item in value])
    return _scalar(spec, key, value)


def _attributes(spec: ElementSpec, given: Mapping[str, object]) -> dict[str, str]:
    """Keyword attributes -> lxml's attribute dict, checked against the element's vocabulary."""
    keywords, rules = spec.keywords, spec.values
    attributes = {}
    for key, value in given.items():
        if value is None:
            continue
        name = keywords.get(key)
        if name is None:
            raise _unknown_attribute(spec, key)
        if name in attributes:
            raise TwiMLError(
                f"{_where(spec)} attribute {_display_attribute(name)!r} is given twice "
                f"(as {key!r} and in another spelling)"
            )
        text = value if type(value) is str else _attribute_value(spec, key, value)
        rule = rules.get(name)
        if rule is not None and not rule.accepts(text):
            raise _not_allowed(spec, name, text, key, value)
        attributes[name] = text
    return attributes


def _not_allowed(
    spec: ElementSpec, name: str, text: str, key: str, value: object
) -> TwiMLError:
    """The error for a value Twilio does not take for attribute ``name`` of ``spec`` (given
    as keyword ``key``: ``value``, ``text`` as text)."""
    if not _is_xml(text):
        return _attribute_not_xml(spec, {key: value})
    shown = f"{text!r:.60}" if text.isascii() else f"{text!a:.60}"  # so look-alikes show
    return TwiMLError(
        f"{_where(spec)} attribute {_display_attribute(name)!r}: {shown} is not a value "
        f"Twilio takes; give {spec.values[name].allowed}"
    )


#: Calls already checked: element, keywords, values and value types -> the element's kind and
#: its attribute values as text. The builder remembers the last call made from each shape
#: (:class:`~callbacks.twiml_template.Call`); this table serves the others: elements made on
#: their own, and calls that differ from the last one made from their shape. Only checked calls
#: make entries, entries are never modified, and the table is emptied when full, so threads
#: share it safely.
_checked: dict[tuple[object, ...], tuple[Kind, tuple[str, ...]]] = {}
_MAX_CHECKED: Final = 2048

#: Types whose values print the same whenever they are equal and of the same type (unlike
#: Decimal or float), so that calls can be known by their values: lists of str besides.
_PLAIN_TYPES: Final = frozenset({str, int, bool, list, type(None)})
_STR_OR_NONE: Final = frozenset({str, type(None)})

#: Each element without attributes.
_BARE: Final = {spec: (kind_of(spec, ()), ()) for spec in ELEMENTS.values()}


def _plain(types: tuple[type, ...], values: Iterable[object]) -> bool:
    """Whether values of ``types`` print the same whenever they are equal (str, int, bool,
    None, lists of str)."""
    return _PLAIN_TYPES.issuperset(types) and (
        list not in types
        or all(type(item) is str for value in values if type(value) is list for item in value)  # type: ignore[attr-defined]
    )


def _checked_attributes(
    spec: ElementSpec, given: Mapping[str, object]
) -> tuple[Kind, tuple[str, ...]]:
    """The kind and attribute values of ``spec`` with keywords ``given``, checked."""
    types = tuple(map(type, given.values()))
    key: tuple[object, ...] | None = None
    if _plain(types, given.values()):
        # lists cannot be keys: known by their text, which is all they print
        items = [(k, " ".join(v) if type(v) is list else v) for k, v in given.items()]  # type: ignore[arg-type]
        key = (spec, *items, *types)
        found = _checked.get(key)
        if found is not None:
            return found
    attributes = _attributes(spec, given)
    values = tuple(attributes.values())
    if not _is_xml(" ".join(values)):
        raise _attribute_not_xml(spec, given)
    checked = (kind_of(spec, tuple(attributes)), values) if attributes else _BARE[spec]
    if key is not None:
        if len(_checked) >= _MAX_CHECKED:
            _checked.clear()
        _checked[key] = checked
    return checked


def _values_like(
    call: Call, given: Mapping[str, object], fresh: list[int] | None, position: int
) -> tuple[str, ...] | None:
    """The attribute values for keywords ``given`` if they differ from those of ``call`` only
    in the text of str values (a per-call query string, a caller's number), else ``None``.

    Each value changed is noted in ``fresh`` (if a list) as the draft's data ``position``
    plus the value's place shifted by 32 bits (see
    :func:`switchboard.callbacks.twiml_template.serialise`).
    """
    if call.keys != [*given] or len(call.values) != len(call.keys):
        return None
    was, names, rules = call.raw, call.kind.names, call.spec.values
    values = list(call.values)
    for place, value in enumerate(given.values()):
        old = was[place]
        if value is old:
            continue
        if (
            type(value) is str
            and type(old) is str
            and ((value.isascii() and value.isprintable()) or _NOT_XML.search(value) is None)
        ):  # _is_xml(value)
            rule = rules.get(names[place])
            if rule is not None and not rule.accepts(value):
                return None  # checked in full, which says what is wrong
            values[place] = value
            if fresh is not None:
                fresh.append(position | place << 32)
        elif not (type(value) is list and type(old) is list and value == old):
            return None
    return tuple(values)


#: What lxml refuses in text and attribute values.
_NOT_XML: Final = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ud800-\\udfff\\ufffe\\uffff]")


def _is_xml(text: str) -> bool:
    """Whether lxml takes ``text`` (no NUL, no control characters but tab and newlines)."""
    return (text.isascii() and text.isprintable()) or _NOT_XML.search(text) is None


def _text(spec: ElementSpec, value: object) -> str:
    """Text for a value lxml refused: numbers become str, anything else is a TwiMLError."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        text = _number(value)
        if text is not None:
            return text
        raise _not_a_number(f"{_where(spec)} text", value)
    raise _text_error(spec, value)


def _checked_text(spec: ElementSpec, value: object) -> str:
    """The text lxml would store for ``value`` (a str, UTF-8 bytes or a number), or a
    TwiMLError."""
    if type(value) is str:
        if not _is_xml(value):
            raise _text_error(spec, value)
        return value
    if isinstance(value, str):
        return _checked_text(spec, str.__str__(value))
    if isinstance(value, bytes | bytearray):  # (lxml itself takes ASCII bytes only)
        try:
            return _checked_text(spec, bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            raise TwiMLError(
                f"{_where(spec)} text: the bytes are not UTF-8 (give a str): {value!r:.60}"
            ) from None
    probe = etree.Element("probe")
    try:
        probe.text = value  # type: ignore[assignment]
    except (TypeError, ValueError):
        return _text(spec, value)
    return probe.text or ""


def _element_text(spec: ElementSpec, text: object, *, blanks: bool = False) -> str | None:
    """The text of a new ``spec`` element, checked: ``None`` for none.

    ``blanks``: whether blanks alone will do where text is required (for an element made on
    its own, as they always have).
    """
    if text is None or text == "":
        if spec.text == "required":
            raise TwiMLError(f"{_where(spec)} needs text")
        return None
    if not (type(text) is str and text.isascii() and text.isprintable()):
        text = _checked_text(spec, text)
        if not text:  # empty bytes, say: no text, as for ""
            return _element_text(spec, None)
    if spec.text == "required" and not blanks and text.isspace():  # type: ignore[union-attr]
        raise TwiMLError(f"{_where(spec)} needs text, not only blanks")
    return text  # type: ignore[return-value]


_XML_CANNOT = "NUL, control characters, lone surrogates, U+FFFE, U+FFFF"


def _text_error(spec: ElementSpec, value: object) -> TwiMLError:
    if isinstance(value, str | bytes):
        return TwiMLError(
            f"{_where(spec)} text is not XML-compatible ({_XML_CANNOT}): {value!r:.60}"
        )
    return TwiMLError(
        f"{_where(spec)} text: cannot use a {type(value).__name__!r} value (give a str)"
    )


def _attribute_not_xml(spec: ElementSpec, given: Mapping[str, object]) -> TwiMLError:
    """The error for keywords ``given`` of which a value, as text, XML cannot carry."""
    for key, value in given.items():
        if value is not None and not _is_xml(_attribute_value(spec, key, value)):
            shown = "not shown" if spec.keywords.get(key) in SECRET_ATTRIBUTES else f"{value!r:.60}"
            return TwiMLError(
                f"{_where(spec)} attribute {key!r}: the value is not XML compatible "
                f"({_XML_CANNOT}): {shown}"
            )
    return TwiMLError(f"{_where(spec)}: an attribute value is not XML compatible")


# --- nodes ------------------------------------------------------------------------------------


class _Refused:
    """A builder method of a child the node's element does not take, in the node's class:
    reading it raises :class:`_NotAllowedHere`, which says which children the element takes.

    (Not ``__getattr__`` on the nodes: a class with one has every attribute looked up the
    slow way, which makes the builder's calls 12 % dearer.)
    """

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __get__(self, node: object, owner: type[TwiML] | None = None) -> Any:
        spec = (owner or type(node))._spec
        raise _NotAllowedHere(_cannot_contain(spec, self.tag))


NODE_CLASSES: dict[str, type[TwiML]] = {}
_new_node = object.__new__  # a node without __init__, to be given its place
_NODE_CLASS_OF: dict[ElementSpec, type[TwiML]] = {}


class TwiML:
    """One TwiML element being built. Subclasses add one method per child the element takes.

    A node made directly (``Gather(num_digits=1)``) stands alone until given to
    :meth:`append`; ``VoiceResponse()`` and ``MessagingResponse()`` are the documents.
    A node is a place in a :class:`~callbacks.twiml_template.Draft`: element ``_index`` of
    ``_draft``, the record of the calls that built the document.
    """

    __slots__ = ("_draft", "_index")
    _spec: ClassVar[ElementSpec]
    _children: ClassVar[dict[str, ElementSpec]]

    def __init_subclass__(cls, key: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if key is not None:
            cls._spec = ELEMENTS[key]
            cls._children = cls._spec.children
            NODE_CLASSES[key] = cls
            _NODE_CLASS_OF[cls._spec] = cls
            allowed = {method_name(tag) for tag in cls._children}
            for name in CHILD_METHODS - allowed:
                setattr(cls, name, _Refused(_TAG_OF_METHOD[name]))

    def __init__(self, text: object = None, /, **attributes: AttributeValue) -> None:
        spec = self._spec
        kind, values = _checked_attributes(spec, attributes) if attributes else _BARE[spec]
        if spec.text == "none" and text is not None and text != "":
            raise TwiMLError(f"{_where(spec)} takes no text")
        self._draft = Draft(kind, _element_text(spec, text, blanks=True), values)
        self._index = 0

    @property
    def element(self) -> etree._Element:
        """The lxml element underneath: shared with the document, not a copy.

        The first read makes the document's lxml tree. From then on that tree is the
        document: changes made to it show in ``str()``, and further builder calls add to it
        directly (at the builder's former speed, without the shape cache).
        """
        draft = self._resolve()
        elements = draft.go_live() if draft.recorded else draft.elements
        return elements[self._index]

    def _resolve(self) -> Draft:
        """This node's draft, after following the moves of the draft it was made in."""
        draft = self._draft
        while draft.moved_to is not None:
            self._index += draft.offset
            draft = self._draft = draft.moved_to
        return draft

    def _add(self, tag: str, text: object, attributes: Mapping[str, object]) -> Self:
        draft = self._draft
        if draft.recorded:  # the call last made from this shape again? (see Call)
            call = draft.step.last
            if call is not None and call.tag is tag and call.parent == self._index:
                values: tuple[str, ...] | None
                if call.given == attributes and (call.order is None or call.order == [*attributes]):
                    values = call.values
                    for key, kind in call.typed:  # equal values of other types print otherwise
                        if type(attributes[key]) is not kind:
                            values = None
                            break
                else:
                    values = _values_like(call, attributes, draft.fresh, len(draft.data) + 1)
                if values is not None:
                    data = draft.data
                    if text is not call.text:
                        if not (
                            type(text) is str
                            and text
                            and text.isascii()
                            and text.isprintable()
                            and not (call.needs_text and text.isspace())
                        ):  # checked as _element_text() would, else by it
                            text = _element_text(call.spec, text)
                        if draft.fresh is not None:
                            draft.fresh.append(len(data))
                    draft.step = call.step
                    data += (text, values)
                    return self
        return self._add_other(tag, text, attributes)

    def _add_other(self, tag: str, text: object, attributes: Mapping[str, object]) -> Self:
        """:meth:`_add` for any call but one like the last made from the draft's shape."""
        draft, index = self._resolve(), self._index
        spec = self._children.get(tag)
        if spec is None:
            raise TwiMLError(_cannot_contain(self._spec, tag))
        if self._spec in ENDING_VERBS:
            _check_reachable(self._spec, draft, tag)
        kind, values = _checked_attributes(spec, attributes) if attributes else _BARE[spec]
        text = _element_text(spec, text)
        if not draft.recorded:
            element = _SubElement(
                draft.elements[index], kind.tag, dict(zip(kind.names, values, strict=True))
            )
            element.text = text
            draft.adopt(index, element, kind)
            return self
        step = draft.step.then(index, kind)
        types = tuple(map(type, attributes.values()))
        if _plain(types, attributes.values()):
            exact = None if _STR_OR_NONE.issuperset(types) else types
            draft.step.remember(Call(tag, index, attributes, exact, kind, values, text, step))
        draft.step, draft.fresh = step, None  # (the draft's serialising compares it all)
        draft.data += (text, values)
        return self

    def append(self, node: TwiML) -> Self:
        """Add a node built on its own (moving it if it already had a parent)."""
        if not isinstance(node, TwiML):
            raise TypeError(
                f"{_where(self._spec)}: append() takes a node of the builder "
                f"(Gather(...), Say(...), ...), not a {type(node).__name__}"
            )
        spec = self._spec.children.get(node._spec.tag)
        if spec is not node._spec:
            raise TwiMLError(
                f"{_where(self._spec)} cannot contain {type(node).__name__} "
                f"<{node._spec.tag}>; {_allowed_children(self._spec)}"
            )
        draft, other = self._resolve(), node._resolve()
        if self._spec in ENDING_VERBS:
            _check_reachable(self._spec, draft, node._spec.tag)
        if draft.recorded and other.recorded and other is not draft and not node._index:
            other.move_to(draft, self._index)  # the whole of a node built on its own
            return self
        element, target = node.element, self.element
        if target is element or any(above is element for above in target.iterancestors()):
            raise TwiMLError(f"cannot append {_where(node._spec)} inside itself")
        target.append(element)
        self._draft.adopt(self._index, element, node._draft.shape()[node._index][1])
        return self

    def __enter__(self) -> Any:
        draft = self._draft
        if draft.recorded and draft.step.parent == self._index:  # `with node.verb(...) as child:`
            child, kind = len(draft.data) // 2 - 1, draft.step.kind
        else:
            draft = self._resolve()
            child = draft.last_child(self._index)
            if child < 0:
                raise TwiMLError(
                    f"nothing to open in {_where(self._spec)}: add a verb first, "
                    "as in `with r.gather(...) as g:`"
                )
            kind = draft.shape()[child][1]
        node = _new_node(_NODE_CLASS_OF[kind.spec])
        node._draft, node._index = draft, child
        return node

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        return None

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """This node in a copy of its document; nodes of one document copied together (in one
        ``deepcopy``) stay in one copy."""
        draft = self._resolve()
        twin = memo.get(id(draft))
        if twin is None:
            twin = memo[id(draft)] = draft.copy()
        node = _new_node(type(self))
        node._draft, node._index = twin, self._index
        return node

    def _serialise(self, encoding: str) -> Any:
        """The element written by lxml, without the XML declaration."""
        draft = self._draft
        if draft.recorded and not self._index:
            return serialise(draft, encoding)  # a whole recorded document: the usual case
        draft = self._resolve()
        elements = draft.elements if not draft.recorded else build(draft)
        return _tostring(elements[self._index], encoding=encoding, with_tail=False)

    def to_bytes(self) -> bytes:
        """The element as UTF-8 bytes (with the XML declaration for a whole response)."""
        return self._serialise("UTF-8")  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return self._serialise("unicode")  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        draft = self._resolve()
        if draft.recorded:
            count = [parent for parent, _ in draft.shape()].count(self._index)
        else:
            count = len(draft.elements[self._index])
        return f"<{type(self).__name__} <{self._spec.tag}> with {count} children>"


def _last_verb(draft: Draft) -> str | None:
    """The tag of the verb added last to the document of ``draft`` (a response), or None."""
    if draft.recorded:
        step = draft.step
        while step.parent > 0:  # (an element nested in a verb, or in one of its children)
            step = step.previous  # type: ignore[assignment]
        return step.kind.tag if step.parent == 0 else None
    for child in reversed(draft.elements[0]):  # a live tree, which may hold comments
        if isinstance(child.tag, str):
            return child.tag
    return None


def _check_reachable(spec: ElementSpec, draft: Draft, tag: str) -> None:
    """Refuse a verb ``tag`` added to response ``spec`` after a verb that ends the document."""
    last = _last_verb(draft)
    if last in ENDING_VERBS[spec]:
        then = "fetches other TwiML" if last == "Redirect" else "ends the call"
        raise TwiMLError(
            f"{_where(spec)}: <{tag}> after <{last}> would never run (Twilio {then} at "
            f"<{last}>); put it before the <{last}>"
        )


class _Speech(TwiML):
    __slots__ = ()

    def say(self, message: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Say>``: speak ``message`` (voice, loop, language); nest SSML with ``with``."""
        return self._add("Say", message, attributes)

    def play(self, url: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Play>``: play the audio at ``url`` (or DTMF tones with ``digits``). Also: loop."""
        return self._add("Play", url, attributes)

    def pause(self, **attributes: AttributeValue) -> Self:
        """``<Pause>``: silence for ``length`` seconds."""
        return self._add("Pause", None, attributes)


class _Parameters(TwiML):
    __slots__ = ()

    def parameter(
        self, name: str | None = None, value: str | None = None, **attributes: AttributeValue
    ) -> Self:
        """``<Parameter name=... value=...>``: a custom parameter passed on."""
        return self._add("Parameter", None, {"name": name, "value": value, **attributes})


class _Configs(TwiML):
    __slots__ = ()

    def config(
        self, name: str | None = None, value: str | None = None, **attributes: AttributeValue
    ) -> Self:
        """``<Config name=... value=...>``: a provider setting."""
        return self._add("Config", None, {"name": name, "value": value, **attributes})


class _Ssml(TwiML):
    """Text plus SSML tags, inside ``<Say>``. Which tags may nest where follows Twilio's rules."""

    __slots__ = ()

    def add_text(self, text: str) -> Self:
        """Append text after whatever the element holds so far (for text between SSML tags)."""
        if not isinstance(text, str):
            text = _checked_text(self._spec, text)  # bytes and numbers, as for any text
        if not _is_xml(text):
            raise _text_error(self._spec, text)
        draft, index = self._resolve(), self._index
        if not draft.recorded:
            element = draft.elements[index]  # type: ignore[index]
            last = element[-1] if len(element) else None
            if last is not None:
                last.tail = (last.tail or "") + text
            else:
                element.text = (element.text or "") + text
            return self
        child = draft.last_child(index)
        if child >= 0:
            tails = draft.tails = draft.tails or {}
            tails[child] = (tails.get(child) or "") + text
        else:
            draft.data[2 * index] = (draft.data[2 * index] or "") + text  # type: ignore[operator]
            draft.fresh = None
        return self

    def break_(self, **attributes: AttributeValue) -> Self:
        """SSML ``<break>``: a pause; attributes strength, time (``"500ms"``, ``"2s"``)."""
        return self._add("break", None, attributes)

    def emphasis(self, words: str | None = None, **attributes: AttributeValue) -> Self:
        """SSML ``<emphasis>``; attribute level (strong, moderate, reduced)."""
        return self._add("emphasis", words, attributes)

    def lang(self, words: str | None = None, **attributes: AttributeValue) -> Self:
        """SSML ``<lang xml:lang=...>``: words in another language (``xml_lang="fr-FR"``)."""
        return self._add("lang", words, attributes)

    def p(self, words: str | None = None, **attributes: AttributeValue) -> Self:
        """SSML ``<p>``: a paragraph."""
        return self._add("p", words, attributes)

    def phoneme(self, words: str, **attributes: AttributeValue) -> Self:
        """SSML ``<phoneme>``: a pronunciation; attributes alphabet, ph."""
        return self._add("phoneme", words, attributes)

    def prosody(self, words: str | None = None, **attributes: AttributeValue) -> Self:
        """SSML ``<prosody>``: attributes volume, rate, pitch."""
        return self._add("prosody", words, attributes)

    def s(self, words: str | None = None, **attributes: AttributeValue) -> Self:
        """SSML ``<s>``: a sentence."""
        return self._add("s", words, attributes)

    def say_as(self, words: str, **attributes: AttributeValue) -> Self:
        """SSML ``<say-as>``: attributes interpret_as (``interpret-as``), format."""
        return self._add("say-as", words, attributes)

    def sub(self, words: str, **attributes: AttributeValue) -> Self:
        """SSML ``<sub alias=...>``: say ``alias`` in place of ``words``."""
        return self._add("sub", words, attributes)

    def w(self, words: str | None = None, **attributes: AttributeValue) -> Self:
        """SSML ``<w role=...>``: a word with a given part of speech."""
        return self._add("w", words, attributes)


class _MediaStreams(TwiML):
    __slots__ = ()

    def stream(self, **attributes: AttributeValue) -> Self:
        """``<Stream>``: fork the call's audio to a WebSocket (url, name, track, ...)."""
        return self._add("Stream", None, attributes)

    def siprec(self, **attributes: AttributeValue) -> Self:
        """``<Siprec>``: send the call's audio to a SIPREC recorder (connector_name, ...)."""
        return self._add("Siprec", None, attributes)

    def transcription(self, **attributes: AttributeValue) -> Self:
        """``<Transcription>``: live transcription (status_callback_url, language_code, ...)."""
        return self._add("Transcription", None, attributes)

    def recording(self, **attributes: AttributeValue) -> Self:
        """``<Recording>``: record the call in the background (recording_status_callback, ...)."""
        return self._add("Recording", None, attributes)


class _AISession(_Parameters):
    __slots__ = ()

    def language(self, **attributes: AttributeValue) -> Self:
        """``<Language code=...>``: settings for one language (tts_provider, voice, ...)."""
        return self._add("Language", None, attributes)


# --- the documents ----------------------------------------------------------------------------


class _Response(TwiML):
    """A whole document: serialised with the XML declaration."""

    __slots__ = ()
    _bare: ClassVar[Kind]

    def __str__(self) -> str:
        draft = self._draft
        body = serialise(draft, "unicode") if draft.recorded else self._live("unicode")
        return DECLARATION + body  # type: ignore[operator]

    def to_bytes(self) -> bytes:
        """The document as UTF-8 bytes, with the XML declaration: what is sent to Twilio, so
        a document over :data:`MAX_DOCUMENT_BYTES` (Twilio's error 11750) is a TwiMLError."""
        draft = self._draft
        body = serialise(draft, "UTF-8") if draft.recorded else self._live("UTF-8")
        if len(body) > _MAX_BODY_BYTES:
            raise TwiMLError(
                f"the document is {len(body) + len(_DECLARATION_BYTES)} bytes: Twilio reads at "
                f"most {MAX_DOCUMENT_BYTES} (error 11750); say less, or <Redirect> to the rest"
            )
        return _DECLARATION_BYTES + body  # type: ignore[operator]

    def _live(self, encoding: str) -> Any:
        """The document's lxml tree written out, once checked against the vocabulary: it may
        have been changed through ``.element`` into something Twilio would not run."""
        root = self._resolve().elements[0]
        try:
            _check(root, self._spec)
        except TwiMLError as error:
            raise TwiMLError(f"the document, changed through .element: {error}") from None
        return _tostring(root, encoding=encoding, with_tail=False)

    def __init_subclass__(cls, key: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(key, **kwargs)
        cls._bare = _BARE[cls._spec][0]

    def __init__(self) -> None:
        self._draft = Draft.document(self._bare)
        self._index = 0


class VoiceResponse(_Speech, _Response, key="VoiceResponse"):
    """A voice ``<Response>``: what Twilio does next on a call."""

    __slots__ = ()

    def connect(self, **attributes: AttributeValue) -> Self:
        """``<Connect>``: hand the call to a stream, room, AI session, ... (action, method)."""
        return self._add("Connect", None, attributes)

    def dial(self, number: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Dial>``: call ``number``, or nest nouns (number, client, conference, sip, ...)."""
        return self._add("Dial", number, attributes)

    def echo(self) -> Self:
        """``<Echo>``: play the caller's audio back (for testing)."""
        return self._add("Echo", None, {})

    def enqueue(self, name: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Enqueue>``: put the caller in queue ``name`` (or a TaskRouter workflow_sid)."""
        return self._add("Enqueue", name, attributes)

    def gather(self, **attributes: AttributeValue) -> Self:
        """``<Gather>``: collect digits or speech (num_digits, input, action, timeout, ...)."""
        return self._add("Gather", None, attributes)

    def hangup(self) -> Self:
        """``<Hangup>``: end the call."""
        return self._add("Hangup", None, {})

    def leave(self) -> Self:
        """``<Leave>``: take the caller out of its queue."""
        return self._add("Leave", None, {})

    def pay(self, **attributes: AttributeValue) -> Self:
        """``<Pay>``: collect a payment (payment_connector, charge_amount, ...)."""
        return self._add("Pay", None, attributes)

    def record(self, **attributes: AttributeValue) -> Self:
        """``<Record>``: record the caller (action, max_length, play_beep, ...)."""
        return self._add("Record", None, attributes)

    def redirect(self, url: str, **attributes: AttributeValue) -> Self:
        """``<Redirect>``: continue with the TwiML at ``url`` (method)."""
        return self._add("Redirect", url, attributes)

    def refer(self, **attributes: AttributeValue) -> Self:
        """``<Refer>``: SIP REFER the call elsewhere; nest ``sip``."""
        return self._add("Refer", None, attributes)

    def reject(self, **attributes: AttributeValue) -> Self:
        """``<Reject>``: refuse the call unanswered (reason: rejected or busy)."""
        return self._add("Reject", None, attributes)

    def sms(self, message: str, **attributes: AttributeValue) -> Self:
        """``<Sms>`` (deprecated by Twilio; prefer the REST API): send ``message`` during a call."""
        return self._add("Sms", message, attributes)

    def start(self, **attributes: AttributeValue) -> Self:
        """``<Start>``: start a stream, siprec, transcription or recording in the background."""
        return self._add("Start", None, attributes)

    def stop(self) -> Self:
        """``<Stop>``: stop a stream, siprec, transcription or recording started earlier."""
        return self._add("Stop", None, {})


class MessagingResponse(_Response, key="MessagingResponse"):
    """A messaging ``<Response>``: the replies to an incoming message (``<Response/>``: none)."""

    __slots__ = ()

    def message(self, body: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Message>``: reply with ``body`` or nested ``body``/``media`` (to, from_, ...)."""
        return self._add("Message", body, attributes)

    def redirect(self, url: str, **attributes: AttributeValue) -> Self:
        """``<Redirect>``: continue with the TwiML at ``url`` (method)."""
        return self._add("Redirect", url, attributes)


# --- voice verbs --------------------------------------------------------------------------------


class Say(_Ssml, key="Say"):
    __slots__ = ()


class Play(TwiML, key="Play"):
    __slots__ = ()


class Pause(TwiML, key="Pause"):
    __slots__ = ()


class Gather(_Speech, key="Gather"):
    __slots__ = ()


class Record(TwiML, key="Record"):
    __slots__ = ()


class Redirect(TwiML, key="Redirect"):
    __slots__ = ()


class Hangup(_Parameters, key="Hangup"):
    __slots__ = ()


class Reject(_Parameters, key="Reject"):
    __slots__ = ()


class Leave(TwiML, key="Leave"):
    __slots__ = ()


class Echo(TwiML, key="Echo"):
    __slots__ = ()


class Sms(TwiML, key="Sms"):
    __slots__ = ()


class Dial(TwiML, key="Dial"):
    __slots__ = ()

    def number(self, phone_number: str, **attributes: AttributeValue) -> Self:
        """``<Number>``: dial ``phone_number`` (send_digits, status_callback_event, ...)."""
        return self._add("Number", phone_number, attributes)

    def client(self, identity: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Client>``: dial a Voice SDK client (or nest ``identity`` and ``parameter``)."""
        return self._add("Client", identity, attributes)

    def conference(self, name: str, **attributes: AttributeValue) -> Self:
        """``<Conference>``: join conference ``name`` (muted, beep, wait_url, ...)."""
        return self._add("Conference", name, attributes)

    def queue(self, name: str, **attributes: AttributeValue) -> Self:
        """``<Queue>``: connect to the caller at the front of queue ``name``."""
        return self._add("Queue", name, attributes)

    def sip(self, sip_url: str, **attributes: AttributeValue) -> Self:
        """``<Sip>``: dial a SIP URI (username, password, ...)."""
        return self._add("Sip", sip_url, attributes)

    def sim(self, sim_sid: str) -> Self:
        """``<Sim>``: dial a Twilio Programmable Wireless SIM."""
        return self._add("Sim", sim_sid, {})

    def application(self, sid: str | None = None, **attributes: AttributeValue) -> Self:
        """``<Application>``: dial a TwiML application (or nest ``application_sid``)."""
        return self._add("Application", sid, attributes)


class Number(TwiML, key="Number"):
    __slots__ = ()


class Client(_Parameters, key="Client"):
    __slots__ = ()

    def identity(self, identity: str) -> Self:
        """``<Identity>``: the client identity to dial."""
        return self._add("Identity", identity, {})


class Identity(TwiML, key="Identity"):
    __slots__ = ()


class Conference(TwiML, key="Conference"):
    __slots__ = ()


class Queue(TwiML, key="Queue"):
    __slots__ = ()


class Sip(TwiML, key="Sip"):
    __slots__ = ()


class Sim(TwiML, key="Sim"):
    __slots__ = ()


class Application(_Parameters, key="Application"):
    __slots__ = ()

    def application_sid(self, sid: str) -> Self:
        """``<ApplicationSid>``: the application to dial."""
        return self._add("ApplicationSid", sid, {})


class ApplicationSid(TwiML, key="ApplicationSid"):
    __slots__ = ()


class Parameter(TwiML, key="Parameter"):
    __slots__ = ()


class Enqueue(TwiML, key="Enqueue"):
    __slots__ = ()

    def task(self, body: str | Mapping[str, Any], **attributes: AttributeValue) -> Self:
        """``<Task>``: TaskRouter task attributes, as JSON text or a mapping (priority, timeout)."""
        if isinstance(body, Mapping):
            try:
                body = json.dumps(body, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError) as error:  # not JSON: an object, NaN, ...
                raise TwiMLError(f"<Task> text: the mapping is not JSON: {error}") from None
        return self._add("Task", body, attributes)


class Task(TwiML, key="Task"):
    __slots__ = ()


class Connect(TwiML, key="Connect"):
    __slots__ = ()

    def stream(self, **attributes: AttributeValue) -> Self:
        """``<Stream>``: a two-way media stream over a WebSocket (url, ...)."""
        return self._add("Stream", None, attributes)

    def room(self, name: str, **attributes: AttributeValue) -> Self:
        """``<Room>``: join Video room ``name`` (participant_identity)."""
        return self._add("Room", name, attributes)

    def conversation(self, **attributes: AttributeValue) -> Self:
        """``<Conversation>``: connect to a Conversations service (service_instance_sid, ...)."""
        return self._add("Conversation", None, attributes)

    def conversation_relay(self, **attributes: AttributeValue) -> Self:
        """``<ConversationRelay>``: speech to and from your WebSocket app (url, voice, ...)."""
        return self._add("ConversationRelay", None, attributes)

    def virtual_agent(self, **attributes: AttributeValue) -> Self:
        """``<VirtualAgent>``: a Dialogflow CX agent (connector_name, language, ...)."""
        return self._add("VirtualAgent", None, attributes)

    def assistant(self, **attributes: AttributeValue) -> Self:
        """``<Assistant>``: a Twilio AI Assistant (id, voice, ...)."""
        return self._add("Assistant", None, attributes)


class Stream(_Parameters, key="Stream"):
    __slots__ = ()


class Siprec(_Parameters, key="Siprec"):
    __slots__ = ()


class Transcription(_Parameters, _Configs, key="Transcription"):
    __slots__ = ()


class Recording(TwiML, key="Recording"):
    __slots__ = ()


class Room(TwiML, key="Room"):
    __slots__ = ()


class Conversation(TwiML, key="Conversation"):
    __slots__ = ()


class ConversationRelay(_AISession, key="ConversationRelay"):
    __slots__ = ()


class Assistant(_AISession, key="Assistant"):
    __slots__ = ()


class Language(TwiML, key="Language"):
    __slots__ = ()


class VirtualAgent(_Parameters, _Configs, key="VirtualAgent"):
    __slots__ = ()


class Config(TwiML, key="Config"):
    __slots__ = ()


class Start(_MediaStreams, key="Start"):
    __slots__ = ()


class Stop(_MediaStreams, key="Stop"):
    __slots__ = ()


class Pay(_Parameters, key="Pay"):
    __slots__ = ()

    def prompt(self, **attributes: AttributeValue) -> Self:
        """``<Prompt>``: what to say for one step of ``<Pay>`` (for_, error_type, ...)."""
        return self._add("Prompt", None, attributes)


class Prompt(_Speech, key="Prompt"):
    __slots__ = ()


class Refer(TwiML, key="Refer"):
    __slots__ = ()

    def sip(self, sip_url: str) -> Self:
        """``<Sip>``: the SIP URI to refer the call to."""
        return self._add("Sip", sip_url, {})


class ReferSip(TwiML, key="ReferSip"):
    __slots__ = ()


# --- SSML ---------------------------------------------------------------------------------------


class SsmlBreak(TwiML, key="break"):
    __slots__ = ()


class SsmlEmphasis(_Ssml, key="emphasis"):
    __slots__ = ()


class SsmlLang(_Ssml, key="lang"):
    __slots__ = ()


class SsmlP(_Ssml, key="p"):
    __slots__ = ()


class SsmlPhoneme(TwiML, key="phoneme"):
    __slots__ = ()


class SsmlProsody(_Ssml, key="prosody"):
    __slots__ = ()


class SsmlS(_Ssml, key="s"):
    __slots__ = ()


class SsmlSayAs(TwiML, key="say-as"):
    __slots__ = ()


class SsmlSub(TwiML, key="sub"):
    __slots__ = ()


class SsmlW(_Ssml, key="w"):
    __slots__ = ()


# --- messaging ------------------------------------------------------------------------------------


class Message(TwiML, key="Message"):
    __slots__ = ()

    def body(self, text: str) -> Self:
        """``<Body>``: the message text."""
        return self._add("Body", text, {})

    def media(self, url: str) -> Self:
        """``<Media>``: a picture or file to attach (MMS, WhatsApp)."""
        return self._add("Media", url, {})


class Body(TwiML, key="Body"):
    __slots__ = ()


class Media(TwiML, key="Media"):
    __slots__ = ()


# --- reading TwiML back ---------------------------------------------------------------------

_parsers = threading.local()


def _parser(*, for_text: bool) -> etree.XMLParser:
    """A safe parser (no network, no entities, no DTD, size limits on), one per thread."""
    name = "text" if for_text else "bytes"
    parser = getattr(_parsers, name, None)
    if parser is None:
        parser = etree.XMLParser(
            encoding="utf-8" if for_text else None,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        setattr(_parsers, name, parser)
    return parser


def _blank(text: str | None) -> bool:
    return text is None or text.isspace() or text == ""


def _check(element: etree._Element, spec: ElementSpec) -> None:
    for name in element.attrib:
        if name not in spec.attributes:
            raise TwiMLError(
                f"{_where(spec)} has no attribute {_display_attribute(name)!r}", code=12200
            )
    rule = spec.text
    if rule == "none" and not _blank(element.text):
        raise TwiMLError(f"{_where(spec)} cannot contain text", code=12200)
    if rule == "required" and (_blank(element.text) and not len(element)):
        raise TwiMLError(f"{_where(spec)} needs text", code=12200)
    children = spec.children
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            if tag is etree.Comment or tag is etree.PI:  # (only in a tree made with lxml)
                if rule == "none" and not _blank(child.tail):
                    raise TwiMLError(f"{_where(spec)} cannot contain text", code=12200)
                continue
            raise TwiMLError(f"{_where(spec)} contains an entity reference", code=12100)
        child_spec = children.get(tag)
        if child_spec is None:
            raise TwiMLError(_cannot_contain(spec, tag), code=12200)
        if rule == "none" and not _blank(child.tail):
            raise TwiMLError(f"{_where(spec)} cannot contain text", code=12200)
        _check(child, child_spec)


def _response_spec(root: etree._Element, kind: str | None) -> ElementSpec:
    if kind == "voice":
        return VOICE_RESPONSE
    if kind == "messaging":
        return MESSAGING_RESPONSE
    if kind is not None:
        raise ValueError(f"kind must be 'voice', 'messaging' or None, not {kind!r}")
    messaging_only = MESSAGING_RESPONSE.children.keys() - VOICE_RESPONSE.children.keys()
    if any(child.tag in messaging_only for child in root):
        return MESSAGING_RESPONSE
    return VOICE_RESPONSE


def parse_twiml(
    data: bytes | str, *, kind: Literal["voice", "messaging"] | None = None
) -> etree._Element:
    """Parse a TwiML document and check it against the vocabulary; return the ``<Response>``.

    ``kind`` restricts the verbs to voice or messaging TwiML; by default a document with a
    ``<Message>`` is taken as messaging, anything else as voice. Raises :class:`TwiMLError`
    (one line, with ``code`` 12100 or 12200) when the document is not well-formed XML, has
    a DOCTYPE, is not a ``<Response>``, or uses a verb, noun, attribute or text TwiML does not
    allow where it stands.
    """
    if isinstance(data, str):
        try:
            raw, parser = data.lstrip().encode("utf-8"), _parser(for_text=True)
        except UnicodeEncodeError as error:  # a lone surrogate: no XML can carry it
            raise TwiMLError(
                f"not well-formed XML: {error.object[error.start]!a} at position {error.start} "
                "is a lone surrogate",
                code=12100,
            ) from None
    elif isinstance(data, bytes | bytearray | memoryview):
        raw, parser = bytes(data).lstrip(), _parser(for_text=False)
    else:
        raise TypeError(f"parse_twiml() takes bytes or str, not {type(data).__name__}")
    if not raw:
        raise TwiMLError("empty document (answer <Response/> to do nothing)", code=12100)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as error:
        raise TwiMLError(
            f"not well-formed XML: {' '.join(str(error).split())}", code=12100
        ) from None
    if root.getroottree().docinfo.doctype:
        raise TwiMLError("a DOCTYPE is not allowed in TwiML", code=12100)
    if root.tag != "Response":
        raise TwiMLError(f"the root element is <{root.tag}>, not <Response>", code=12100)
    _check(root, _response_spec(root, kind))
    return root
