"""Demo data at a health system's scale (``flask demo seed``). Plain functions over the
session; none commits (the command does, once).

``seed(options)`` generates fictional providers (PT and DC, names from ``data/demo``, valid
and unique NPIs, ``example.*`` emails), their licenses in every jurisdiction of the registry
(PT Compact privileges for some physical therapists), dry-needling training records and the
board registrations the state rules ask for, then visits checked through the real coding
path (``coding.services.check_visits``, in batches), so every decision is recorded as any
other check is.

* Reproducible: everything is drawn from ``random.Random`` streams seeded from ``--seed``, and
  every date is counted from ``as_of``; the same seed and ``as_of`` on an empty database give
  the same rows (ids, timestamps and the coding checks' batch keys aside).
* Fast: rows are plain dicts inserted in bulk (one statement per chunk: on PostgreSQL one
  array parameter per column, unnested by the server, as ``alerts.services`` does; elsewhere a
  Core ``executemany``); no ORM object and no flush per row.
* Realistic enough to exercise the app: the training hours and board registrations follow
  the rules in force on ``as_of`` (most clinicians meet them, some fall short), some
  credentials have expired or expire within 90 days (so the alert job has work), and the
  visits mix allowed, warned and blocked decisions.
"""

from __future__ import annotations

import csv
import random
import re
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Callable, ContextManager, Iterator, NamedTuple

from sqlalchemy import bindparam, func, insert, or_, select, text
from sqlalchemy.dialects import postgresql

from registry.audit.services import record as audit
from registry.coding import gate
from registry.coding import services as coding
from registry.db import utcnow
from registry.eligibility.services import collector_paused
from registry.extensions import db
from registry.providers.models import BoardRegistration, License, Provider, TrainingRecord
from registry.providers.npi import npi_check_digit
from registry.rules.models import RuleVersion
from registry.rules.reference import JURISDICTIONS
from registry.rules.services import Actor, seed_reference_data

DATA = Path(__file__).resolve().parent.parent.parent / "data" / "demo"
MAX_PROVIDERS = 1_000_000
MAX_VISITS_PER_PROVIDER = 100
DEFAULT_VISITS_PER_PROVIDER = 3
#: providers generated and inserted at a time (their credentials follow them)
CHUNK = 5_000
#: rows a statement: PostgreSQL takes one array a column; SQLite one executemany
ROWS_PER_STATEMENT = 10_000
VISIT_BATCH = coding.MAX_VISITS
ACTOR = Actor(id=None, label="cli:demo seed")
#: check_visits' channel: coding_check allows page, api, api_batch and csv only, and a seed is
#: a batch; the actor ("cli:demo seed") tells these records apart
CHANNEL = "api_batch"
#: serialises two seeds on PostgreSQL (SQLite's write lock does it there)
SEED_LOCK = 0x4E52_4453  # "NRDS"

CODES = tuple(code for code, _, _ in JURISDICTIONS)
PROFESSIONS = ("PT", "DC")
PT_SHARE = 0.68

COURSES = (
    "Dry Needling Level 1", "Dry Needling Level 2", "Dry Needling Level 3: Advanced Applications",
    "Dry Needling for the Upper Quarter", "Dry Needling for the Lower Quarter",
    "Dry Needling of the Spine and Pelvis", "Functional Dry Needling Foundations",
    "Trigger Point Dry Needling Certification", "Integrative Dry Needling Practicum",
    "Dry Needling Safety and Clean Technique",
)
SPONSORS = (
    "Northfield Dry Needling Institute", "Lakeside Manual Therapy Seminars", "Summit Clinical Education",
    "Redwood Myofascial Institute", "Harbor Rehab Academy", "Prairie Sports Medicine Courses",
)
APPROVERS = {"PT": ("APTA", "FSBPT", "State chapter", ""), "DC": ("PACE", "State board", "")}
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")

MUSCLES = (
    "upper trapezius", "levator scapulae", "rhomboid major", "infraspinatus", "supraspinatus",
    "teres minor", "pectoralis minor", "latissimus dorsi", "splenius capitis", "suboccipitals",
    "sternocleidomastoid", "scalenes", "cervical multifidus", "lumbar multifidus", "erector spinae",
    "quadratus lumborum", "gluteus medius", "gluteus maximus", "piriformis", "tensor fasciae latae",
    "iliopsoas", "vastus lateralis", "hamstrings", "gastrocnemius", "soleus", "tibialis anterior",
    "extensor carpi radialis", "temporalis", "masseter",
)
SIDES, SIDE_WEIGHTS = ("left", "right", "bilateral", "midline"), (40, 40, 16, 4)
PAYERS = {  # payer type: (weight, names)
    "medicare": (20, ("Medicare Part B", "Medicare")),
    "medicaid": (8, ("Texas Medicaid", "Medi-Cal", "Apple Health")),
    "commercial": (54, ("Aetna", "Cigna", "Anthem Blue Cross", "UnitedHealthcare", "Blue Cross Blue Shield of Texas",
                        "BCBS of Illinois", "Humana", "Kaiser Permanente", "Wellmark", "Oscar")),
    "workers_comp": (6, ("State Compensation Insurance Fund", "Liberty Mutual WC")),
    "self_pay": (12, ("",)),
}
DIAGNOSES = ("M79.18", "M54.50", "M54.2", "M62.830", "M25.511", "M79.10", "M54.6", "S16.1XXA", "M53.82")


class SeedRefused(Exception):
    """The seed cannot run as asked (no rules, or providers exist without --append)."""


@dataclass(frozen=True)
class SeedOptions:
    providers: int
    seed: int = 1
    visits_per_provider: int = DEFAULT_VISITS_PER_PROVIDER
    as_of: date = field(default_factory=date.today)
    append: bool = False


@dataclass
class SeedCounts:
    providers: Counter = field(default_factory=Counter)  # by profession
    licenses: int = 0
    compact_privileges: int = 0
    trainings: int = 0
    registrations: int = 0
    visits: int = 0
    outcomes: Counter = field(default_factory=Counter)
    #: (jurisdiction, profession) pairs with at least one license (compact privileges aside)
    covered: set = field(default_factory=set)
    #: seconds spent in each phase
    seconds: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows written: providers, credentials, coding checks and the audit event."""
        return sum(self.providers.values()) + self.licenses + self.trainings + self.registrations + self.visits + 1

    def as_dict(self, options: SeedOptions) -> dict:
        return {
            "seed": options.seed, "as_of": options.as_of.isoformat(), "append": options.append,
            "visits_per_provider": options.visits_per_provider,
            "providers": sum(self.providers.values()), "providers_by_profession": dict(sorted(self.providers.items())),
            "licenses": self.licenses, "compact_privileges": self.compact_privileges, "training_records": self.trainings,
            "board_registrations": self.registrations, "coding_checks": self.visits,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


# --- the inputs ------------------------------------------------------------------------------------
def _names(filename: str) -> tuple[str, ...]:
    lines = (DATA / filename).read_text(encoding="utf-8").splitlines()
    return tuple(dict.fromkeys(s for s in (line.strip() for line in lines) if s and not s.startswith("#")))


@lru_cache(maxsize=1)
def demo_data() -> tuple[tuple[str, ...], tuple[str, ...], dict[str, float], frozenset[str]]:
    """(first names, last names, population weight by jurisdiction, PT Compact members)."""
    with (DATA / "jurisdictions.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    weights = {r["code"]: float(r["population_millions"]) for r in rows}
    missing = set(CODES) - set(weights)
    if missing:
        raise ValueError(f"{DATA / 'jurisdictions.csv'} has no row for {', '.join(sorted(missing))}")
    compact = frozenset(r["code"] for r in rows if r["pt_compact"] == "yes")
    return _names("first_names.txt"), _names("last_names.txt"), weights, compact


@dataclass(frozen=True)
class Needs:
    """What a permitted rule in force on ``as_of`` asks of a clinician (0 = no figure)."""

    training_hours: Decimal = Decimal(0)
    practical_hours: Decimal = Decimal(0)
    sessions: int = 0
    registration: bool = False


def needs_on(day: date) -> dict[tuple[str, str], Needs]:
    """(jurisdiction, profession) -> what the permitted rule in force on ``day`` asks."""
    query = select(RuleVersion).where(
        RuleVersion.superseded_at.is_(None), RuleVersion.status == "permitted",
        or_(RuleVersion.effective_from.is_(None), RuleVersion.effective_from <= day),
        or_(RuleVersion.effective_to.is_(None), RuleVersion.effective_to > day),
    )
    return {
        (r.jurisdiction_code, r.profession_code): Needs(
            r.min_training_hours or Decimal(0), r.min_practical_hours or Decimal(0), r.supervised_sessions or 0,
            r.board_registration_required is True,
        )
        for r in db.session.scalars(query)
    }


def rules_loaded() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(RuleVersion)))


def provider_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Provider)) or 0


# --- bulk inserts ----------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _unnest_insert(table, columns: tuple[str, ...], returning: tuple[str, ...]):
    """INSERT INTO table (columns) SELECT ... FROM unnest(:a, :b, ...): one array parameter a
    column, the same statement text for any number of rows (see alerts.services)."""
    arrays = [bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived(name="given")
    statement = insert(table).from_select(list(columns), select(*(source.c[name] for name in columns)))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def bulk_insert(table, rows: list[dict], *, returning: tuple[str, ...] = ()) -> list:
    """INSERT ``rows`` (dicts with the same keys) in chunks; the ``returning`` columns of the
    rows inserted, in no particular order."""
    if not rows:
        return []
    got: list = []
    if db.session.get_bind().dialect.name == "postgresql":
        columns = tuple(rows[0])
        statement = _unnest_insert(table, columns, returning)
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start:start + ROWS_PER_STATEMENT]
            result = db.session.execute(statement, {name: [row[name] for row in chunk] for name in columns})
            if returning:
                got += result.all()
        return got
    statement = insert(table)
    if returning:
        statement = statement.returning(*(table.c[name] for name in returning))
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        result = db.session.execute(statement, rows[start:start + ROWS_PER_STATEMENT])
        if returning:
            got += result.all()
    return got


# --- the population --------------------------------------------------------------------------------
def _half_hours(value: float | Decimal) -> Decimal:
    """Round up to a half hour, as course hours are recorded."""
    return (Decimal(str(value)) * 2).to_integral_value(rounding=ROUND_CEILING) / 2


def _slug(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


@dataclass
class Person:
    """A generated provider's rows (provider_id filled in once the provider is inserted)."""

    provider: dict
    licenses: list[dict]
    trainings: list[dict]
    registrations: list[dict]


class Population:
    """Draws providers one after the other from one random stream: the n-th provider depends
    only on the seed, ``as_of``, the rules and the NPIs taken before it."""

    def __init__(self, seed: int, as_of: date, needs: dict[tuple[str, str], Needs], taken_npis: set[str]):
        self.rng = random.Random(f"needle-registry demo people {seed}")
        self.as_of = as_of
        self.needs = needs
        self.taken = taken_npis
        self.first_names, self.last_names, weights, compact = demo_data()
        self.cum_weights = []
        total = 0.0
        for code in CODES:
            total += weights[code]
            self.cum_weights.append(total)
        self.compact = [c for c in CODES if c in compact]
        #: the first 2 x 52 providers: one of each profession in every jurisdiction
        self.coverage = [(code, profession) for code in CODES for profession in PROFESSIONS]
        self.index = 0
        now = utcnow()
        self.stamp = {"created_at": now, "updated_at": now, "version_id": 1}

    def _day(self, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    def _state(self) -> str:
        return self.rng.choices(CODES, cum_weights=self.cum_weights)[0]

    def _npi(self) -> str:
        while True:
            first_nine = str(self.rng.randrange(100_000_000, 200_000_000))
            npi = first_nine + str(npi_check_digit(first_nine))
            if npi not in self.taken:
                self.taken.add(npi)
                return npi

    def _expiry(self, start: date, *, none: float, expired: float, soon: float) -> date | None:
        """None, lapsed (up to ~13 months ago), due within 90 days, or later; never before ``start``."""
        rng, as_of = self.rng, self.as_of
        roll = rng.random()
        if roll < none:
            return None
        if roll < none + expired:
            day = as_of - timedelta(days=rng.randint(1, 400))
        elif roll < none + expired + soon:
            day = as_of + timedelta(days=rng.randint(0, 90))
        else:
            day = as_of + timedelta(days=rng.randint(91, 1_000))
        return max(day, start)

    def next(self) -> Person:
        rng, as_of = self.rng, self.as_of
        if self.index < len(self.coverage):
            home, profession = self.coverage[self.index]
        else:
            profession = "PT" if rng.random() < PT_SHARE else "DC"
            home = self._state()
        self.index += 1
        first, last = rng.choice(self.first_names), rng.choice(self.last_names)
        middle = f" {rng.choice('ABCDEFGHJKLMNPRSTW')}." if rng.random() < 0.25 else ""
        npi = self._npi()
        email = "" if rng.random() < 0.03 else f"{_slug(first)}.{_slug(last)}.{npi[-4:]}@{rng.choice(EMAIL_DOMAINS)}"
        provider = {
            "name": f"{first}{middle} {last}", "npi": npi, "profession_code": profession, "email": email,
            "is_active": rng.random() > 0.03, "user_id": None, **self.stamp,
        }

        # licenses: a home state and, for some, more (a few travel clinicians hold many)
        n_states = rng.choices((1, 2, 3, 4, 5, 6, 8, 12, 20), (55, 22, 11, 4, 3, 2, 1.5, 1, 0.5))[0]
        states = [home]
        while len(states) < n_states:
            code = self._state()
            if code not in states:
                states.append(code)
        career_days = int(rng.triangular(0.3, 35, 9) * 365.25)
        first_issued = as_of - timedelta(days=career_days)
        licenses = []
        for position, code in enumerate(states):
            issued = first_issued if position == 0 else self._day(first_issued, as_of - timedelta(days=30))
            status = rng.choices(("active", "inactive", "suspended", "revoked"), (965, 20, 10, 5))[0]
            ended = self._day(issued, as_of) if rng.random() < 0.015 else None
            licenses.append({
                "jurisdiction_code": code, "profession_code": profession, "number": f"{code}-{profession}-{rng.randint(1000, 999_999):06d}",
                "issued_on": issued, "expires_on": self._expiry(issued, none=0.03, expired=0.05, soon=0.07), "status": status,
                "is_compact_privilege": False, "ended_on": ended, "end_reason": "Relocated; not renewed" if ended else "", **self.stamp,
            })
        if profession == "PT" and home in self.compact and rng.random() < 0.15:
            home_expires = licenses[0]["expires_on"]
            choices = [c for c in self.compact if c not in states]
            for code in rng.sample(choices, min(len(choices), rng.choices((1, 2, 3, 4), (50, 25, 15, 10))[0])):
                issued = self._day(max(first_issued, as_of - timedelta(days=900)), as_of - timedelta(days=30))
                expires = max(issued, home_expires) if home_expires else issued + timedelta(days=730)
                licenses.append({
                    "jurisdiction_code": code, "profession_code": "PT", "number": f"PTC-{code}-{rng.randint(1000, 999_999):06d}",
                    "issued_on": issued, "expires_on": expires, "status": "active", "is_compact_privilege": True,
                    "ended_on": None, "end_reason": "", **self.stamp,
                })

        # board registrations where the rule in force asks for one (most hold it, some not)
        registrations = []
        for lic in licenses:
            code = lic["jurisdiction_code"]
            need = self.needs.get((code, profession))
            if need is None or not need.registration:
                continue
            roll = rng.random()
            if roll < 0.12:
                continue
            issued = self._day(lic["issued_on"], as_of - timedelta(days=1))
            if roll < 0.70:
                expires = None if rng.random() < 0.2 else max(issued, as_of + timedelta(days=rng.randint(91, 1_000)))
            elif roll < 0.80:
                expires = max(issued, as_of + timedelta(days=rng.randint(0, 90)))
            else:
                expires = max(issued, as_of - timedelta(days=rng.randint(1, 300)))
            registrations.append({
                "jurisdiction_code": code, "number": f"DN-{code}-{rng.randint(1000, 999_999):06d}", "issued_on": issued,
                "expires_on": expires, "status": "active", "ended_on": None, "end_reason": "", **self.stamp,
            })

        return Person(provider, licenses, self._trainings(profession, licenses), registrations)

    def _trainings(self, profession: str, licenses: list[dict]) -> list[dict]:
        """Courses that meet the strictest permitted rule of the clinician's states (78%), fall
        short of it (15%), or none at all (7%)."""
        rng, as_of = self.rng, self.as_of
        roll = rng.random()
        if roll < 0.07:
            return []
        short = roll >= 0.85
        needs = [self.needs[key] for key in {(lic["jurisdiction_code"], profession) for lic in licenses} if key in self.needs]
        need_total = max((n.training_hours for n in needs), default=Decimal(0))
        need_practical = max((n.practical_hours for n in needs), default=Decimal(0))
        need_sessions = max((n.sessions for n in needs), default=0)
        total = max(need_total, need_practical, _half_hours(rng.uniform(16, 60))) + _half_hours(rng.uniform(0, 12))
        if short:
            total = max(Decimal(8), _half_hours(float(total) * rng.uniform(0.3, 0.85)))
        k = rng.choices((1, 2, 3), (50, 35, 15))[0]
        each = _half_hours(float(total) / k)
        ratio = rng.uniform(0.45, 0.85)
        if need_practical and not short:
            ratio = max(ratio, float(need_practical / (each * k)))
        practical = min(each, _half_hours(float(each) * ratio))
        sessions = -(-need_sessions // k) + rng.randint(0, 10) if need_sessions and not short else (rng.randint(0, 20) if rng.random() < 0.25 else 0)
        # most finished the training before the visits (dated up to 180 days back); a few lately
        last = as_of - timedelta(days=rng.randint(200, 6 * 365) if rng.random() < 0.95 else rng.randint(14, 199))
        rows = []
        for number, title in enumerate(rng.sample(COURSES, k)):
            completed = last if number == 0 else last - timedelta(days=rng.randint(20, 300))
            expires = self._expiry(completed, none=0.78, expired=0.08, soon=0.08)
            ended = self._day(completed, as_of) if rng.random() < 0.01 else None
            rows.append({
                "course_title": title, "sponsor": rng.choice(SPONSORS), "approving_body": rng.choice(APPROVERS[profession]),
                "completed_on": completed, "total_hours": each, "practical_hours": practical, "supervised_sessions": sessions,
                "expires_on": expires, "ended_on": ended, "end_reason": "Certificate withdrawn by the sponsor" if ended else "",
                **self.stamp,
            })
        return rows


def insert_people(people: list[Person], counts: SeedCounts) -> list[tuple[str, str, tuple[str, ...]]]:
    """Insert the providers, then their credentials; (NPI, profession, licensed states) of each."""
    ids = dict((npi, pid) for pid, npi in bulk_insert(Provider.__table__, [p.provider for p in people], returning=("id", "npi")))
    licenses, trainings, registrations = [], [], []
    roster = []
    for person in people:
        provider_id = ids[person.provider["npi"]]
        for kind, into in ((person.licenses, licenses), (person.trainings, trainings), (person.registrations, registrations)):
            for row in kind:
                row["provider_id"] = provider_id
                into.append(row)
        profession = person.provider["profession_code"]
        counts.providers[profession] += 1
        counts.covered.update((lic["jurisdiction_code"], profession) for lic in person.licenses if not lic["is_compact_privilege"])
        roster.append((person.provider["npi"], profession, tuple(lic["jurisdiction_code"] for lic in person.licenses)))
    bulk_insert(License.__table__, licenses)
    bulk_insert(TrainingRecord.__table__, trainings)
    bulk_insert(BoardRegistration.__table__, registrations)
    counts.licenses += len(licenses)
    counts.compact_privileges += sum(1 for lic in licenses if lic["is_compact_privilege"])
    counts.trainings += len(trainings)
    counts.registrations += len(registrations)
    return roster


# --- the visits ------------------------------------------------------------------------------------
class Care(NamedTuple):
    """What a visit documents and bills, before the paperwork flags."""

    muscles: tuple[gate.Muscle, ...]
    lines: tuple[gate.Line, ...]
    payer_type: str
    payer_name: str
    medicare: bool


def documented_care(rng: random.Random, profession: str, payers: dict[str, tuple[int, tuple[str, ...]]]) -> Care:
    """The muscles needled and the claim lines of one visit, with its payer (``payers``: type ->
    (weight, names)): mostly right, with the mistakes the gate is there to catch at realistic
    rates (the wrong code, both codes, two units, a missing Medicare modifier, E/M without -25,
    a trigger-point injection on the same or another muscle, acupuncture). Shared by
    ``flask demo seed`` and bench/gate.py; the order of the draws is part of both's seeds."""
    muscles = [gate.Muscle(name, rng.choices(SIDES, SIDE_WEIGHTS)[0]) for name in rng.sample(MUSCLES, rng.choices((1, 2, 3, 4, 5), (25, 30, 22, 13, 10))[0])]
    if rng.random() < 0.03:  # the same muscle written down twice
        muscles.append(muscles[0])
    right = gate.code_for(gate.distinct_muscles(muscles))
    dn_code = right if rng.random() < 0.9 else ("20561" if right == "20560" else "20560")
    payer_type = rng.choices(list(payers), [weight for weight, _ in payers.values()])[0]
    payer_name = rng.choice(payers[payer_type][1])
    medicare = payer_type == "medicare"
    modifiers = (("GX" if profession == "PT" else "GY"),) if medicare and rng.random() < 0.85 else ()
    lines = [gate.Line(dn_code, 2 if rng.random() < 0.02 else 1, modifiers)]
    if rng.random() < 0.01:
        lines.append(gate.Line("20561" if dn_code == "20560" else "20560"))
    if rng.random() < 0.35:
        lines.append(gate.Line("97110", rng.randint(1, 3)))
    if rng.random() < 0.15:
        lines.append(gate.Line("97140", rng.randint(1, 2)))
    if rng.random() < 0.06:
        lines.append(gate.Line(rng.choice(("99203", "99213", "99214")), 1, ("25",) if rng.random() < 0.7 else ()))
    if rng.random() < 0.02:
        injected = muscles[:1] if rng.random() < 0.5 else (gate.Muscle("deltoid", "left"),)
        lines.append(gate.Line("20552", 1, (), tuple(injected)))
    if rng.random() < 0.01:
        lines.append(gate.Line("97810"))
    rng.shuffle(lines)
    return Care(tuple(muscles), tuple(lines), payer_type, payer_name, medicare)


class Visits:
    """Visits for each provider of the roster, from their own random stream (so the number of
    visits never changes the people)."""

    def __init__(self, seed: int, as_of: date, permitted: set[tuple[str, str]]):
        self.rng = random.Random(f"needle-registry demo visits {seed}")
        self.as_of = as_of
        #: (jurisdiction, profession) pairs whose rule in force on as_of permits dry needling
        self.permitted = permitted

    def visit(self, npi: str, profession: str, states: tuple[str, ...]) -> gate.Visit:
        rng = self.rng
        # the patient's state: mostly one where the clinician holds a license and the rule
        # permits dry needling (where clinics offer it), sometimes another, rarely any state
        roll = rng.random()
        if roll < 0.80:
            allowed = [c for c in states if (c, profession) in self.permitted]
            code = rng.choice(allowed or states)
        else:
            code = rng.choice(states) if roll < 0.95 else rng.choice(CODES)
        care = documented_care(rng, profession, PAYERS)
        return gate.Visit(
            npi=npi, jurisdiction=code, day=self.as_of - timedelta(days=rng.randint(0, 180)), payer_type=care.payer_type,
            payer_name=care.payer_name, muscles=care.muscles, lines=care.lines,
            diagnoses=tuple(rng.sample(DIAGNOSES, rng.randint(1, 3))), consent_on_file=rng.random() < 0.95,
            plan_of_care_on_file=rng.random() < 0.9, reassessment_done=rng.random() < 0.7,
            abn_on_file=rng.random() < (0.8 if care.medicare else 0.02), referral_on_file=rng.random() < 0.6,
        )

    def batches(self, roster: list[tuple[str, str, tuple[str, ...]]], per_provider: int, size: int = VISIT_BATCH) -> Iterator[list[gate.Visit]]:
        batch: list[gate.Visit] = []
        for npi, profession, states in roster:
            for _ in range(per_provider):
                batch.append(self.visit(npi, profession, states))
                if len(batch) == size:
                    yield batch
                    batch = []
        if batch:
            yield batch


# --- the whole seed --------------------------------------------------------------------------------
def check_can_seed(options: SeedOptions) -> None:
    """Raise SeedRefused when the seed cannot run as asked. Takes the seed lock first."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEED_LOCK})
    if not rules_loaded():
        raise SeedRefused("No state rules are loaded, and the demo data follows them: run flask rules import data/state_rules.csv first.")
    existing = provider_count()
    if existing and not options.append:
        raise SeedRefused(f"The registry already holds {existing:,} provider(s); nothing was seeded. Seed an empty database, or give --append to add {options.providers:,} more.")


@contextmanager
def _no_progress(_label: str, _length: int) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None


Progress = Callable[[str, int], ContextManager[Callable[[int], None]]]


def seed(options: SeedOptions, *, progress: Progress = _no_progress) -> SeedCounts:
    """Generate and insert the population, check its visits, record one audit event; the
    caller commits. ``progress(label, length)`` opens each phase's progress report: a context
    manager giving a function told how many items were just done."""
    check_can_seed(options)
    seed_reference_data()
    taken = set(db.session.scalars(select(Provider.npi))) if options.append else set()
    needs = needs_on(options.as_of)
    population = Population(options.seed, options.as_of, needs, taken)
    counts = SeedCounts()
    roster: list[tuple[str, str, tuple[str, ...]]] = []
    started = time.perf_counter()
    with progress("Providers and credentials", options.providers) as done:
        for start in range(0, options.providers, CHUNK):
            n = min(CHUNK, options.providers - start)
            with collector_paused():  # plain acyclic dicts by the thousand
                roster += insert_people([population.next() for _ in range(n)], counts)
            done(n)
    counts.seconds["providers and credentials"] = time.perf_counter() - started
    started = time.perf_counter()
    if options.visits_per_provider:
        with progress("Coding checks", options.providers * options.visits_per_provider) as done:
            for batch in Visits(options.seed, options.as_of, set(needs)).batches(roster, options.visits_per_provider):
                checked = coding.check_visits(batch, actor=ACTOR, channel=CHANNEL)
                counts.visits += len(checked)
                counts.outcomes.update(c.result.outcome for c in checked)
                done(len(batch))
                del checked
    counts.seconds["coding checks"] = time.perf_counter() - started
    audit(actor_id=ACTOR.id, actor=ACTOR.label, action="demo.seed", entity_type="demo", entity_key=f"seed {options.seed}", after=counts.as_dict(options))
    return counts
