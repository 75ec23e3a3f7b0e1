"""The load test's users (run by tests/test_load.py: ``locust -f tests/load/locustfile.py
--headless ...`` with ``LOAD_CONFIG`` naming a JSON file the test wrote).

* ``EligibilityReader`` (API token with ``eligibility:read``): one decision, sometimes a matrix.
* ``CodingClerk`` (API token with ``coding:check``): ``POST /api/v1/coding/check``.
* ``RuleEditor`` (a manager, signed in through the login form with its CSRF token): opens the
  edit page of one of a few rules, reads it for a moment, and saves a correction that writes a
  unique marker into the rule's notes, with the version it read. Several editors share the same
  rules, so some saves find the rule changed under them and must be refused as conflicts.

Every request is written to ``results-<pid>.jsonl`` in the configured directory (one JSON
object a line: what, when it started and ended, the status; status 0 is a connection error),
with the check id and decision of each coding check and, for each save, the marker written,
the version it started from and whether it was accepted (redirect) or refused (409 with the
conflict message). The test reads these files and the database afterwards.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

import gevent
from locust import HttpUser, between, task

from tests.load.forms import form_fields

CONFIG = json.loads(open(os.environ["LOAD_CONFIG"], encoding="utf-8").read())
PHASE = os.environ.get("LOAD_PHASE", "1")
RESULTS = open(os.path.join(CONFIG["results_dir"], f"results-{PHASE}-{os.getpid()}.jsonl"), "a", buffering=1, encoding="utf-8")
CONFLICT_TEXT = "Your edit was not saved"


def record(kind: str, started: float, status: int, **fields) -> None:
    RESULTS.write(json.dumps({"kind": kind, "phase": PHASE, "t0": started, "t1": time.time(), "status": status, **fields}) + "\n")


def judge(response, expected: tuple[int, ...]) -> None:
    """Locust's own count: an expected status is a success, anything else a failure."""
    if response.status_code in expected:
        response.success()
    else:
        response.failure(f"status {response.status_code}" + (f" ({response.error})" if response.error else ""))


class EligibilityReader(HttpUser):
    weight = 4
    wait_time = between(0.05, 0.25)

    def on_start(self):
        self.headers = {"Authorization": f"Bearer {CONFIG['tokens']['eligibility']}"}
        self.licensed = CONFIG["licensed"]
        self.npis = sorted(self.licensed)

    @task(4)
    def one_decision(self):
        npi = random.choice(self.npis)
        state = random.choice(self.licensed[npi])
        started = time.time()
        with self.client.get(f"/api/v1/providers/{npi}/eligibility", params={"jurisdiction": state, "date": "2025-06-01"},
                             headers=self.headers, name="GET eligibility", catch_response=True) as response:
            judge(response, (200,))
            record("eligibility", started, response.status_code)

    @task(1)
    def matrix(self):
        npi = random.choice(self.npis)
        started = time.time()
        with self.client.get(f"/api/v1/providers/{npi}/eligibility/matrix", headers=self.headers,
                             name="GET eligibility matrix", catch_response=True) as response:
            judge(response, (200,))
            record("matrix", started, response.status_code)


class CodingClerk(HttpUser):
    weight = 3
    wait_time = between(0.05, 0.25)

    def on_start(self):
        self.headers = {"Authorization": f"Bearer {CONFIG['tokens']['coding']}"}

    @task
    def check(self):
        visit = random.choice(CONFIG["visits"])
        started = time.time()
        with self.client.post("/api/v1/coding/check", json=visit, headers=self.headers,
                              name="POST coding check", catch_response=True) as response:
            judge(response, (200,))
            check_id = outcome = None
            if response.status_code == 200:
                body = response.json()
                check_id, outcome = body["check_id"], body["outcome"]
            record("coding", started, response.status_code, check_id=check_id, outcome=outcome,
                   retry_after=response.headers.get("Retry-After"), body=None if response.status_code in (200, 503) else response.text[:300])


class RuleEditor(HttpUser):
    fixed_count = len(CONFIG["managers"])
    wait_time = between(0.1, 0.4)
    _next_manager = 0

    def on_start(self):
        manager = CONFIG["managers"][RuleEditor._next_manager % len(CONFIG["managers"])]
        RuleEditor._next_manager += 1
        self.email, self.password = manager["email"], manager["password"]
        self.signed_in = False
        self.sign_in()

    def sign_in(self) -> None:
        started = time.time()
        with self.client.get("/login", name="GET login", catch_response=True) as response:
            judge(response, (200,))
            record("login_form", started, response.status_code)
            if response.status_code != 200:
                return
            fields = form_fields(response.text)
        fields.update(email=self.email, password=self.password)
        started = time.time()
        with self.client.post("/login", data=fields, name="POST login", allow_redirects=False, catch_response=True) as response:
            judge(response, (302,))
            record("login", started, response.status_code)
            self.signed_in = response.status_code == 302

    @task
    def edit(self):
        if not self.signed_in:
            self.sign_in()
            if not self.signed_in:
                return
        pair = random.choice(CONFIG["rules"])
        path = f"/jurisdictions/{pair['jurisdiction']}/{pair['profession']}/edit"
        started = time.time()
        with self.client.get(path, name="GET rule edit form", allow_redirects=False, catch_response=True) as response:
            judge(response, (200,))
            record("edit_form", started, response.status_code)
            if response.status_code != 200:
                self.signed_in = response.status_code != 302  # a redirect: to the sign-in page
                return
            fields = form_fields(response.text, "rule-form")
        gevent.sleep(random.uniform(0.0, 0.3))  # the manager reads the form before saving
        marker = f"load-{PHASE}-{uuid.uuid4().hex[:16]}"
        fields.update(effective_from=pair["effective_from"], notes=f"Load test correction {marker}", reason=f"load test {marker}")
        started = time.time()
        with self.client.post(path, data=fields, name="POST rule edit", allow_redirects=False, catch_response=True) as response:
            status, text = response.status_code, response.text or ""
            if status == 302 and f"/jurisdictions/{pair['jurisdiction']}" in response.headers.get("Location", ""):
                outcome = "accepted"
            elif status == 409:
                outcome = "conflict"
            elif status == 503:
                outcome = "unavailable"
            else:
                outcome = "other"
            judge(response, (302, 409))
            record("edit", started, status, outcome=outcome, marker=marker, user=self.email,
                   jurisdiction=pair["jurisdiction"], profession=pair["profession"],
                   base_id=int(fields["current_id"]), base_version=int(fields["current_version"]),
                   conflict_message=CONFLICT_TEXT in text, retry_after=response.headers.get("Retry-After"),
                   body=None if outcome in ("accepted", "conflict", "unavailable") else text[:500])
