"""The load test's population: providers with licenses, training and board registrations (as the
CSV files ``flask providers import`` reads, see docs/data-dictionary.md), and the visits the
coding clerks send. Reproducible from a seed; every NPI carries a valid check digit."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from registry.providers.npi import npi_check_digit

STATES = ("WA", "TX", "OR", "CO", "FL", "GA", "VA", "MD", "NM", "CA", "NY", "IL", "AZ", "NC", "OH")
MUSCLES = ("upper trapezius", "levator scapulae", "infraspinatus", "gluteus medius", "piriformis",
           "quadratus lumborum", "gastrocnemius", "lumbar multifidus", "scalenes", "supraspinatus")
SIDES = ("left", "right", "bilateral")
PAYERS = (("commercial", "Aetna"), ("commercial", "Cigna"), ("medicare", "Medicare Part B"), ("self_pay", ""))
PROVIDER_COLUMNS = ["npi", "name", "profession", "email", "is_active"]
CREDENTIAL_COLUMNS = ["npi", "kind", "jurisdiction", "profession", "number", "issued_on", "expires_on", "status",
                      "is_compact_privilege", "course_title", "sponsor", "approving_body", "completed_on",
                      "total_hours", "practical_hours", "supervised_sessions", "ended_on", "end_reason"]


def npi(n: int) -> str:
    first_nine = f"{170000000 + n:09d}"
    return first_nine + str(npi_check_digit(first_nine))


def generate(count: int, seed: int) -> tuple[list[dict], list[dict], dict[str, list[str]]]:
    """(providers rows, credential rows, NPI -> states licensed)."""
    rng = random.Random(seed)
    providers, credentials, licensed = [], [], {}
    for n in range(count):
        number = npi(n)
        profession = "PT" if rng.random() < 0.75 else "DC"
        providers.append({"npi": number, "name": f"Load Provider {n:03d}", "profession": profession,
                          "email": f"load{n:03d}@example.org", "is_active": "yes"})
        states = rng.sample(STATES, rng.randint(1, 3))
        licensed[number] = states
        blank = dict.fromkeys(CREDENTIAL_COLUMNS, "")
        for index, state in enumerate(states):
            credentials.append(blank | {
                "npi": number, "kind": "license", "jurisdiction": state, "profession": profession,
                "number": f"{state}-{n:03d}-{index}", "issued_on": f"{rng.randint(2008, 2023)}-0{rng.randint(1, 9)}-01",
                "expires_on": f"{rng.randint(2026, 2029)}-12-31", "status": "active", "is_compact_privilege": "no",
            })
            if rng.random() < 0.5:
                credentials.append(blank | {
                    "npi": number, "kind": "registration", "jurisdiction": state, "number": f"DN-{state}-{n:03d}",
                    "issued_on": "2024-07-01", "expires_on": "2028-06-30", "status": "active",
                })
        for index in range(rng.randint(0, 2)):
            hours = rng.choice((27, 54, 80, 150, 330))
            credentials.append(blank | {
                "npi": number, "kind": "training", "course_title": f"Dry Needling {index + 1}", "sponsor": "Load Institute",
                "approving_body": "APTA", "completed_on": f"{rng.randint(2015, 2024)}-03-15", "total_hours": str(hours),
                "practical_hours": str(hours // 2), "supervised_sessions": str(rng.choice((0, 10, 160))),
            })
    return providers, credentials, licensed


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def visits(licensed: dict[str, list[str]], count: int, seed: int) -> list[dict]:
    """Coding-check bodies: mostly a state the clinician is licensed in, sometimes another."""
    rng = random.Random(seed)
    npis = sorted(licensed)
    out = []
    for _ in range(count):
        number = rng.choice(npis)
        state = rng.choice(licensed[number]) if rng.random() < 0.85 else rng.choice(STATES)
        muscles = [{"name": m, "side": rng.choice(SIDES)} for m in rng.sample(MUSCLES, rng.randint(1, 4))]
        distinct = sum(2 if m["side"] == "bilateral" else 1 for m in muscles)
        code = "20560" if distinct <= 2 else "20561"
        if rng.random() < 0.1:
            code = "20561" if code == "20560" else "20560"  # coded wrongly: blocked
        payer_type, payer_name = rng.choice(PAYERS)
        out.append({
            "npi": number, "jurisdiction": state, "date": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "payer_type": payer_type, "payer_name": payer_name, "muscles": muscles,
            "lines": [{"code": code, "units": 1}], "diagnoses": ["M79.18"],
            "consent_on_file": rng.random() < 0.9, "plan_of_care_on_file": True, "reassessment_done": True,
        })
    return out
