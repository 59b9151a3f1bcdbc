"""Every URL pattern of the project as a concrete path, for the security walks.

The anonymous walk, the role matrix and the CSRF test all start here, so a URL added later on any
branch is covered without anyone listing it. Converters get a value that parses (``int`` gets
999999, an id nothing has); regex patterns get the first candidate that resolves back to the
same view.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

MISSING_ID = "999999"
CONVERTER_VALUES = {
    "int": MISSING_ID,
    "str": "x",
    "slug": "x",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "path": "x",
}
REGEX_CANDIDATES = (MISSING_ID, "x", "cases", "auth")


@dataclass(frozen=True)
class Endpoint:
    route: str  # the pattern as written, for messages
    name: str  # "namespace:name", or the route when unnamed
    path: str  # a concrete path that resolves to the view
    callback: Callable[..., Any]

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"


def _route_sample(route: str) -> str:
    return re.sub(
        r"<(?:(\w+):)?\w+>", lambda match: CONVERTER_VALUES.get(match.group(1) or "str", "x"), route
    )


def _regex_samples(regex: str) -> Iterator[str]:
    """Paths for a regex pattern: each named group filled with each candidate in turn."""
    body = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    groups = list(re.finditer(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)", body))
    literal_options = []
    for group in groups:
        inner = group.group(1)
        options = [o for o in inner.split("|") if re.fullmatch(r"[\w-]+", o)]
        literal_options.append(options)
    for candidate in REGEX_CANDIDATES:
        sample, offset = body, 0
        for group, options in zip(groups, literal_options, strict=True):
            value = options[0] if options else candidate
            start, end = group.start() + offset, group.end() + offset
            sample = sample[:start] + value + sample[end:]
            offset += len(value) - (group.end() - group.start())
        yield sample.replace("\\", "")


def _samples(pattern: Any) -> Iterator[str]:
    text = str(pattern)
    if hasattr(pattern, "_route"):
        yield _route_sample(text)
    else:
        yield from _regex_samples(text)


def _walk(
    patterns: list[Any], prefix: str, namespace: str
) -> Iterator[tuple[str, str, str, Callable[..., Any], list[str]]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            for sample in list(_samples(entry.pattern))[:1]:
                yield from _walk(entry.url_patterns, prefix + sample, ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}{entry.name}" if entry.name else route
            yield route, name, prefix, entry.callback, list(_samples(entry.pattern))


def endpoints(urlconf: str | None = None) -> tuple[list[Endpoint], list[str]]:
    """All endpoints, and the routes no sample path could be found for (a test fails on them)."""
    found, unreachable = [], []
    for route, name, prefix, callback, samples in _walk(
        get_resolver(urlconf).url_patterns, "/", ""
    ):
        shadowed = False
        for sample in samples:
            path = prefix + sample
            try:
                match = resolve(path, urlconf)
            except Resolver404:
                continue
            if match.func is callback:
                found.append(Endpoint(route, name, path, callback))
                break
            shadowed = True  # an earlier pattern answers this path: that one is walked
        else:
            if not shadowed:
                unreachable.append(route)
    return found, unreachable


def required_capability(callback: Callable[..., Any]) -> Any:
    """What ``@capability_required`` recorded on the view (function or class-based)."""
    capability = getattr(callback, "required_capability", None)
    view_class = getattr(callback, "view_class", None)
    if capability is None and view_class is not None:
        capability = getattr(view_class.dispatch, "required_capability", None)
    return capability
