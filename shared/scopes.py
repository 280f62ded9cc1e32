"""Scopes: `<service>.<resource>:<action>`. Each service declares its own in `services/<name>/scopes.py`.

A declaration says what the scope allows and which kinds of caller hold it by default; the gateway
builds its principals' scopes from these declarations (`holders`): resident, staff (any level),
city_staff (the city bureau only), auditor, partner, service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Holder = str  # one of HOLDERS
HOLDERS = frozenset({"resident", "staff", "city_staff", "auditor", "partner", "service"})


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    holders: frozenset[Holder] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = set(self.holders) - HOLDERS
        if unknown:
            raise ValueError(f"{self.name}: unknown holders {unknown}")

    def __str__(self) -> str:
        return self.name


def scope(name: str, description: str, *holders: Holder) -> str:
    """Declare a scope and return its name (what `require(...)` takes)."""
    DECLARED[name] = Scope(name, description, frozenset(holders))
    return name


DECLARED: dict[str, Scope] = {}


def scopes_held_by(*holders: Holder) -> frozenset[str]:
    return frozenset(s.name for s in DECLARED.values() if s.holders & set(holders))
