"""Recorded TwiML documents, and the lxml trees that serialise them.

The builder in :mod:`switchboard.callbacks.twiml` checks every call at once but makes no lxml
element as
it goes: lxml creates a Python object for each element and checks and encodes each attribute
it is given, which costs more than the rest of a builder call. A call is recorded in a
:class:`Draft` instead: the element's parent and :class:`Kind` (tag and attribute names), its
text and its attribute values, all checked already.

Documents built by the same code have the same *shape* (the parent and kind of each element,
in order) while their texts and values change (a caller's name, a per-call query string).
Shapes are kept as a tree of :class:`Step` objects, so a draft's last step stands for its
whole shape; a step also remembers the last call that led on from it, so that the builder
can tell a repeated call from a new one with a few comparisons.

A document is written out by lxml all the same, from an lxml tree made for its shape. Each
thread keeps a few such trees (:data:`MAX_TREES`), keyed by shape; serialising sets, through
lxml, each text and attribute value that differs from the tree's previous document, then lets
lxml write the tree. lxml escapes every text and value; no markup is made from strings. The
trees are private to their thread: no tree is shared between threads or changed while another
thread reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from copy import deepcopy
from itertools import compress, count
from operator import is_not
from typing import Final

from lxml import etree

from switchboard.callbacks.twiml_vocabulary import ElementSpec

__all__ = [
    "MAX_STEPS",
    "MAX_TREES",
    "Call",
    "Draft",
    "Kind",
    "Step",
    "build",
    "kind_of",
    "serialise",
]

_Element = etree.Element
_new_draft = object.__new__
_SubElement = etree.SubElement
_tostring = etree.tostring


class Kind:
    """An element with a given list of attributes: its tag and attribute names, not values.

    Kinds are interned (see :func:`kind_of`), so shapes compare by the identity of their kinds.
    """

    __slots__ = ("names", "spec", "tag")

    def __init__(self, spec: ElementSpec, names: tuple[str, ...]) -> None:
        self.spec = spec
        self.tag = spec.tag
        self.names = names

    def __repr__(self) -> str:
        return f"<Kind <{self.tag}> {' '.join(self.names)}>"


_MAX_KINDS: Final = 4096
_kinds: dict[tuple[ElementSpec, tuple[str, ...]], Kind] = {}


def kind_of(spec: ElementSpec, names: tuple[str, ...]) -> Kind:
    """The one :class:`Kind` for ``spec`` with attributes ``names`` (in that order)."""
    found = _kinds.get((spec, names))
    if found is None:
        if len(_kinds) >= _MAX_KINDS:
            _kinds.clear()  # kinds handed out stay valid; shapes made with them are not shared
        found = _kinds.setdefault((spec, names), Kind(spec, names))
    return found


class Call:
    """A checked builder call, kept by the step it was made from (``Step.last``): enough to
    know the same call again, and what it made.

    The call added a ``tag`` element under element ``parent``, with text ``text`` and keywords
    ``given`` (lists copied: the caller may change its own), which made ``kind`` with attribute
    ``values`` and led to ``step``. ``keys`` and ``raw`` are the keywords' names (a list:
    ``[*given] == keys`` is the quickest test of a call's keywords and their order) and values,
    ``order`` the names again when there are two or more (the attributes are written in that
    order), ``typed`` the keywords and types of the values when any is not a str or None
    (else equal values are the same values), and ``needs_text`` whether blank text is refused.
    """

    __slots__ = (
        "given",
        "keys",
        "kind",
        "needs_text",
        "order",
        "parent",
        "raw",
        "spec",
        "step",
        "tag",
        "text",
        "typed",
        "values",
    )

    def __init__(
        self,
        tag: str,
        parent: int,
        given: Mapping[str, object],
        types: tuple[type, ...] | None,
        kind: Kind,
        values: tuple[str, ...],
        text: str | None,
        step: Step,
    ) -> None:
        # lists copied: the caller may change its own later
        given = {k: v.copy() if type(v) is list else v for k, v in given.items()}  # type: ignore[attr-defined]
        self.tag, self.parent, self.given, self.keys = tag, parent, given, [*given]
        self.order = self.keys if len(given) > 1 else None
        self.raw = tuple(given.values())
        self.kind, self.spec, self.values = kind, kind.spec, values
        self.typed = () if types is None else tuple(zip(self.keys, types, strict=True))
        self.needs_text = kind.spec.text == "required"
        self.text, self.step = text, step


#: Steps made since the last reset; the tree of steps starts again beyond the bound.
MAX_STEPS: Final = 8192
_steps = count()
_generation = 0  # of the tree of steps
_roots: dict[Kind, Step] = {}

#: Changes whenever a step's last call is replaced. While it stays the same, the texts and
#: values a builder takes from the steps' last calls are the very same objects in every draft
#: of a shape, so a draft and a tree can differ only where either had anything else (``fresh``).
#: It is odd while a last call is being replaced (see :meth:`Step.remember`): a draft begun
#: then may hold values of either call, and is compared whole.
epoch = 0
_epochs = count(1)
_remembering = threading.Lock()


def _count_step() -> None:
    global _steps, _generation
    if next(_steps) >= MAX_STEPS:  # start again; drafts keep the steps they hold
        _steps = count()
        _generation += 1
        _roots.clear()


class Step:
    """A shape: the element added last (its ``parent`` and ``kind``) after ``previous``.

    Steps are shared by every thread. Their fields never change once made, except ``last``
    (the last call that led on from here, replaced whole) and the ``next`` table, which only
    grows; a dict and an attribute are changed atomically under the GIL.
    """

    __slots__ = ("kind", "last", "next", "parent", "previous")

    def __init__(self, parent: int, kind: Kind, previous: Step | None) -> None:
        self.parent, self.kind, self.previous = parent, kind, previous
        self.next: dict[tuple[int, Kind], Step] = {}
        self.last: Call | None = None

    @staticmethod
    def root(kind: Kind) -> Step:
        """The shape of a document (or detached element) with only its root, ``kind``."""
        step = _roots.get(kind)
        if step is None:
            step = _roots.setdefault(kind, Step(-1, kind, None))
        return step

    def remember(self, call: Call) -> None:
        """Make ``call`` the last call made from here (see :data:`epoch`).

        The epoch changes before and after: a draft begun before the change is serialised
        under a new epoch, and one begun while the call is being replaced (another thread
        may run between the two) under an odd one, which never takes the short way.
        """
        global epoch
        with _remembering:  # one at a time, so that an odd epoch means "being replaced"
            epoch = next(_epochs)
            self.last = call
            epoch = next(_epochs)

    def then(self, parent: int, kind: Kind) -> Step:
        """The shape of this one with an element of ``kind`` added under element ``parent``."""
        step = self.next.get((parent, kind))
        if step is None:
            _count_step()
            step = self.next.setdefault((parent, kind), Step(parent, kind, self))
        return step

    def shape(self) -> list[tuple[int, Kind]]:
        """Every element's parent and kind, in order."""
        shape = []
        step: Step | None = self
        while step is not None:
            shape.append((step.parent, step.kind))
            step = step.previous
        shape.reverse()
        return shape


class Draft:
    """A document, or an element made on its own, as the builder calls that made it.

    Elements are numbered in the order they were added, so a parent comes before its children.
    ``step`` is the shape; element ``i`` has text ``data[2 * i]`` (``None`` for none) and
    attribute values ``data[2 * i + 1]`` (in the order of its kind's names), and ``tails[i]``
    is the SSML text after it, if any. ``fresh`` lists the data not taken as they are from
    the steps' last calls (texts by position; one attribute value as its position plus its
    place shifted by 32 bits) while :data:`epoch` was ``epoch``, or is ``None`` when unknown.

    A draft is ``recorded`` until something needs its lxml tree for good. It then becomes
    *live* (``elements`` holds its lxml elements by number, ``kinds`` their kinds, and builder
    calls work on them directly) or, appended whole to another recorded draft, *moved* (its
    elements were copied into ``moved_to``, numbered from ``offset`` on).
    """

    __slots__ = (
        "data",
        "elements",
        "epoch",
        "fresh",
        "kinds",
        "moved_to",
        "offset",
        "parents",
        "recorded",
        "step",
        "tails",
    )
    elements: list[etree._Element]  # these four once live or moved
    parents: list[int]
    kinds: list[Kind]
    offset: int

    def __init__(self, root: Kind, text: str | None, values: tuple[str, ...]) -> None:
        self.step = _roots.get(root) or Step.root(root)
        self.data: list[str | tuple[str, ...] | None] = [text, values]
        self.epoch = epoch
        self.fresh: list[int] | None = [] if text is None and values == () else None
        self.tails: dict[int, str] | None = None
        self.recorded = True
        self.moved_to: Draft | None = None

    @staticmethod
    def document(root: Kind) -> Draft:
        """A new draft of a document with only its root, ``root`` (no text, no attributes):
        ``Draft(root, None, ())``, made without a class call."""
        draft = _new_draft(Draft)
        draft.step = _roots.get(root) or Step.root(root)
        draft.data, draft.epoch, draft.fresh = [None, ()], epoch, []
        draft.tails, draft.recorded, draft.moved_to = None, True, None
        return draft

    def copy(self) -> Draft:
        """An independent draft of the same document (a live draft's lxml tree copied too).

        Only a draft that was not moved is copied (follow ``moved_to`` first).
        """
        other = _new_draft(Draft)
        other.step, other.data, other.epoch = self.step, self.data.copy(), self.epoch
        other.fresh = None if self.fresh is None else self.fresh.copy()
        other.tails = dict(self.tails) if self.tails else None
        other.recorded, other.moved_to = self.recorded, None
        if not self.recorded:
            root = self.elements[0]
            twin = deepcopy(root)
            copied = dict(zip(root.iter(), twin.iter(), strict=True))
            # (an element since moved into another document is copied on its own)
            other.elements = [
                copied[e] if e in copied else deepcopy(e) for e in self.elements
            ]
            other.parents, other.kinds = self.parents.copy(), self.kinds.copy()
        return other

    def shape(self) -> list[tuple[int, Kind]]:
        """Every element's parent and kind, in order."""
        if self.recorded:
            return self.step.shape()
        return list(zip(self.parents, self.kinds, strict=True))

    def last_child(self, index: int) -> int:
        """The child of element ``index`` added last, or -1."""
        shape = self.shape()
        for child in range(len(shape) - 1, index, -1):
            if shape[child][0] == index:
                return child
        return -1

    def go_live(self) -> list[etree._Element]:
        """Make the lxml tree of this recorded draft, for good."""
        shape = self.step.shape()
        self.elements = build(self)
        self.parents = [parent for parent, _ in shape]
        self.kinds = [kind for _, kind in shape]
        self.recorded = False
        return self.elements

    def adopt(self, parent: int, element: etree._Element, kind: Kind) -> None:
        """Number ``element``, just put under element ``parent`` of this live draft."""
        self.elements.append(element)
        self.parents.append(parent)
        self.kinds.append(kind)

    def move_to(self, other: Draft, parent: int) -> None:
        """Copy this recorded draft's elements into recorded ``other``, under ``parent``."""
        offset = len(other.data) // 2
        step = other.step
        for index, (element_parent, kind) in enumerate(self.step.shape()):
            step = step.then(element_parent + offset if index else parent, kind)
        other.step = step
        other.data += self.data
        if self.tails:
            tails = other.tails = other.tails or {}
            for index, tail in self.tails.items():
                tails[index + offset] = tail
        self.moved_to, self.offset, self.recorded = other, offset, False
        other.fresh = None


def build(draft: Draft) -> list[etree._Element]:
    """A new lxml tree for recorded ``draft``: its elements, by number."""
    data = draft.data
    elements: list[etree._Element] = []
    for index, (parent, kind) in enumerate(draft.step.shape()):
        attributes = dict(zip(kind.names, data[2 * index + 1], strict=True))  # type: ignore[arg-type]
        if parent == -1:
            element = _Element(kind.tag, attributes)
        else:
            element = _SubElement(elements[parent], kind.tag, attributes)
        text = data[2 * index]
        if text is not None:
            element.text = text  # type: ignore[assignment]
        elements.append(element)
    if draft.tails:
        for index, tail in draft.tails.items():
            elements[index].tail = tail
    return elements


class _Tree:
    """One thread's lxml tree for a shape, and the data of the document it holds now.

    ``fresh`` are the positions of that document's data not taken from the steps' last calls
    of ``epoch`` (``None``: unknown).
    """

    __slots__ = ("data", "elements", "epoch", "fresh", "names", "tails")

    def __init__(self, draft: Draft) -> None:
        self.elements = build(draft)
        self.names = [kind.names for _, kind in draft.step.shape()]
        self.data = draft.data.copy()
        self.tails = dict(draft.tails) if draft.tails else None
        self.epoch = draft.epoch
        fresh = draft.fresh
        self.fresh = fresh.copy() if fresh is not None and draft.epoch == epoch else None

    def set(self, position: int, new: str | tuple[str, ...] | None) -> None:
        """Give the document data ``new`` at ``position``, through lxml where it differs."""
        was = self.data[position]
        self.data[position] = new
        if new != was:
            element = self.elements[position >> 1]
            if position & 1:  # attribute values
                for name, value, old in zip(self.names[position >> 1], new, was, strict=True):  # type: ignore[arg-type]
                    if value is not old and value != old:
                        element.set(name, value)
            else:
                element.text = new  # type: ignore[assignment]

    def set_tails(self, tails: dict[int, str] | None) -> None:
        for index in (tails or {}).keys() | (self.tails or {}).keys():
            self.elements[index].tail = (tails or {}).get(index)
        self.tails = dict(tails) if tails else None


_POSITION: Final = (1 << 32) - 1  # of a fresh entry: the data position, below the place

#: Trees kept per thread, the oldest dropped first.
MAX_TREES: Final = 128
_local = threading.local()


def serialise(draft: Draft, encoding: str) -> str | bytes:
    """The whole of recorded ``draft``, written by lxml (``"unicode"`` for a str).

    The thread's tree for the draft's shape gets, through lxml, every text and attribute
    value in which the draft differs from the tree's previous document.
    """
    try:
        trees: dict[Step, _Tree] = _local.trees
    except AttributeError:
        trees = _local.trees = {}
    tree = trees.get(draft.step)
    if tree is None:
        if getattr(_local, "generation", None) != _generation:  # steps started again:
            trees.clear()  # let the old ones go
            _local.generation = _generation
        elif len(trees) >= MAX_TREES:
            del trees[next(iter(trees))]
        tree = trees[draft.step] = _Tree(draft)
    else:
        data, fresh, known = draft.data, draft.fresh, tree.fresh
        if (
            fresh is not None
            and known is not None
            and draft.epoch == tree.epoch == epoch
            and not draft.epoch & 1
        ):
            # the same calls' texts and values elsewhere: only fresh ones can differ
            old, elements, names = tree.data, tree.elements, tree.names
            same = known == fresh  # (the usual case: the same calls changed the same data)
            for entry in fresh if same else dict.fromkeys(fresh + known):
                position = entry & _POSITION
                if position & 1:  # one attribute value: its place above the position
                    place = entry >> 32
                    value = data[position][place]  # type: ignore[index]
                    if value != old[position][place]:  # type: ignore[index]
                        elements[position >> 1].set(names[position >> 1][place], value)
                elif data[position] != old[position]:
                    elements[position >> 1].text = data[position]  # type: ignore[assignment]
            tree.data = data.copy()
            if not same:
                tree.fresh = fresh.copy()
        else:
            if data != tree.data:
                for position in compress(count(), map(is_not, data, tree.data)):  # not the same
                    tree.set(position, data[position])
            tree.epoch = draft.epoch
            tree.fresh = fresh.copy() if fresh is not None and draft.epoch == epoch else None
        if draft.tails != tree.tails:
            tree.set_tails(draft.tails)
    return _tostring(tree.elements[0], encoding=encoding)
