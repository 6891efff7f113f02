"""Schema-driven fuzzing of ``/graphql`` with schemathesis (hypothesis-graphql).

Every query and mutation field is drawn ``examples`` times: random selections and literal
arguments, where IDs are the caller's real ids mixed with garbage, and strings, decimals
and JSON values include the text and numbers a database cannot store. Each answer is
tallied by status and by ``extensions.code``; nothing is asserted here, so one run
reports every failure at once.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from graphql import GraphQLSchema, introspection_from_schema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis.graphql import nodes

# (status, body) of posting one document with an optional bearer token.
Send = Callable[[str, "str | None"], tuple[int, Any]]

HOSTILE_TEXT = ["a\x00b", "\ud800", "x\udfff", "", " ", "é" * 300, "' OR 1=1 --"]
# Forged page cursors: base64 JSON of the wrong shapes and types.
HOSTILE_TEXT += [
    base64.urlsafe_b64encode(raw.encode()).decode()
    for raw in (
        "[1, 2]",
        '["x", "00000000-0000-0000-0000-000000000001"]',
        '[{"t": "9999-12-31T23:59:59-14:00"}, "00000000-0000-0000-0000-000000000001"]',
        '[{"d": "NaN"}, "00000000-0000-0000-0000-000000000001"]',
        "null",
    )
]
EXTREME_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z"]
HOSTILE_DECIMALS = ["NaN", "sNaN", "Infinity", "-Infinity", "1e999", "-1e-999", "1" * 60]
GOOD_DECIMALS = ["0", "0.7", "1", "2", "-1", "0.000015", "12.5"]


def garbage_ids() -> list[str]:
    """IDs that are not ours: malformed, of unknown types, of no row, not base64."""
    b64 = base64.b64encode
    return [
        "x",
        "a\x00b",
        "\ud800",
        b64(b"\xff\xfe").decode(),
        b64(b"Workspace:not-a-uuid").decode(),
        b64(b"Nope:00000000-0000-0000-0000-000000000000").decode(),
        b64(b"Workspace:00000000-0000-0000-0000-000000000000").decode(),
    ]


def _json_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none().map(lambda _: nodes.Null),
        st.booleans().map(nodes.Boolean),
        st.integers(-(2**40), 2**40).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT)).map(nodes.String),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(nodes.List),
            st.dictionaries(
                st.from_regex(r"[a-z_]{1,8}", fullmatch=True), children, max_size=3
            ).map(_object),
        ),
        max_leaves=8,
    )


def _object(items: dict[str, Any]) -> Any:
    from graphql import NameNode, ObjectFieldNode

    return nodes.Object(
        [ObjectFieldNode(name=NameNode(value=k), value=v) for k, v in items.items()]
    )


def register_scalars(real_ids: Sequence[str]) -> None:
    """Strategies for the schema's scalars (schemathesis keeps them process-wide)."""
    ids = st.sampled_from([*real_ids, *real_ids, *garbage_ids()]).map(nodes.String)
    schemathesis.graphql.scalar("ID", ids)
    # Half of the strings are ones a database cannot store or a service may trip on.
    texts = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_TEXT))
    schemathesis.graphql.scalar("String", texts.map(nodes.String))
    schemathesis.graphql.scalar(
        "Decimal", st.sampled_from([*GOOD_DECIMALS, *HOSTILE_DECIMALS]).map(nodes.String)
    )
    schemathesis.graphql.scalar("JSON", _json_values())
    times = st.datetimes(timezones=st.timezones()).map(lambda value: value.isoformat())
    times = st.one_of(times, st.sampled_from(EXTREME_TIMES))
    schemathesis.graphql.scalar("DateTime", times.map(nodes.String))


@dataclass
class Tally:
    """What the server answered: counts by status class and the bodies that failed."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, int, Any]] = field(default_factory=list)

    def record(self, query: str, status: int, body: Any) -> None:
        self.requests += 1
        self.statuses[f"{status // 100}xx"] += 1
        codes = _codes(body)
        self.codes.update(codes)
        if status >= 500 or "INTERNAL_SERVER_ERROR" in codes:
            self.failures.append((query, status, body))

    def summary(self) -> str:
        return f"{self.requests} requests, {dict(self.statuses)}, codes {dict(self.codes)}"


def _codes(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    return [
        str((error.get("extensions") or {}).get("code"))
        for error in body.get("errors") or []
        if isinstance(error, dict)
    ]


def _order(label: str) -> tuple[bool, str]:
    # Destructive mutations last, so the ids stay real for the rest of the run.
    field_name = label.split(".", 1)[1]
    destructive = field_name.startswith(("delete", "remove", "revoke", "archive", "deactivate"))
    return destructive, label


def fuzz(
    schema: GraphQLSchema,
    send: Send,
    tokens: Sequence[str | None],
    examples: int,
    seed: int | None = None,
) -> Tally:
    """Draw ``examples`` documents per root field and send each with every token; the
    same documents every run unless a ``seed`` picks others."""
    loaded = schemathesis.graphql.from_dict(introspection_from_schema(schema))
    operations = sorted(
        (result.ok() for result in loaded.get_all_operations()), key=lambda op: _order(op.label)
    )
    tally = Tally()
    for operation in operations:
        _fuzz_operation(operation, send, tokens, examples, tally, seed)
    return tally


def _fuzz_operation(
    operation: Any,
    send: Send,
    tokens: Sequence[str | None],
    examples: int,
    tally: Tally,
    seed: int | None,
) -> None:
    @settings(
        max_examples=examples,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        for token in tokens:
            status, body = send(case.body, token)
            tally.record(case.body, status, body)

    (run if seed is None else hypothesis_seed(seed)(run))()
