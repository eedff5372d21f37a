"""Seed a demo server for schemathesis and print the values `schemathesis.toml` reads.

Usage: seed.py BASE_URL DEMO_PASSWORD  ->  `export ST_…=…` lines on standard output.

Every credential and identifier an operation needs: the organiser's session (and a second one
for `logout` to end), a paired kiosk with a lead, attendees' manage tokens, an erasure notice.
Operations that delete or restrict get spares of their own, so that no operation's run takes away
what another's needs, whatever order schemathesis runs them in.
"""

import datetime
import json
import shlex
import sys
import urllib.request
import uuid

BASE, PASSWORD = sys.argv[1], sys.argv[2]
SLUG = "consentry-demo"


def call(method, path, body=None, token=None, expect=(200, 201, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request) as response:
        if response.status not in expect:
            raise SystemExit(f"{method} {path}: {response.status}")
        raw = response.read()
        return json.loads(raw) if raw and response.headers.get_content_type().endswith("json") else raw


def login():
    body = {"email": "demo@consentry.example", "password": PASSWORD}
    return call("POST", "/api/v1/auth/login", body)["token"]


organiser = login()
event_id = call("GET", "/api/v1/events", token=organiser)[0]["id"]
public = call("GET", f"/api/v1/events/{SLUG}")
sponsor_id = public["sponsors"][0]["id"]


def register(name, opt_ins):
    body = {
        "first_name": "Schema",
        "last_name": name,
        "email": f"{name}@schemathesis.example",
        "age_confirmed": True,
        "notice_version": public["privacy_notice_version"],
        "sponsor_opt_ins": opt_ins,
    }
    return call("POST", f"/api/v1/events/{SLUG}/registrations", body)


def new_kiosk():
    path = f"/api/v1/events/{event_id}/sponsors/{sponsor_id}/kiosks"
    return call("POST", path, {}, organiser)


def scan(kiosk, badge):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"badge_token": badge, "client_scan_id": str(uuid.uuid4()), "scanned_at": now}
    return call("POST", "/api/v1/scans", body, kiosk)


def spare_event(slug):
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    body = {
        "slug": slug,
        "name": "Spare event",
        "venue": "Utrecht",
        "time_zone": "Europe/Amsterdam",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "privacy_notice": "We process your registration to run the event.",
    }
    return call("POST", "/api/v1/events", body, organiser)["id"]


code = new_kiosk()["pairing_code"]
kiosk = call("POST", "/api/v1/kiosks/pair", {"code": code, "device_name": "schemathesis"})["token"]

attendee = register("holder", [sponsor_id])
lead_id = scan(kiosk, attendee["badge"]["token"])["lead"]["id"]
restricted = register("restricted", [sponsor_id])
# Its own attendee: a generated change may withdraw every consent, which would hide the lead.
consenting = register("consenting", [sponsor_id])
erased = register("erased", [])

# An erasure notice: a lead exported, then its attendee erased.
gone = register("gone", [sponsor_id])
scan(kiosk, gone["badge"]["token"])
call("GET", f"/api/v1/events/{event_id}/sponsors/{sponsor_id}/leads.csv", token=organiser)
call("DELETE", f"/api/v1/me/{gone['manage_token']}")
notice_id = call("GET", f"/api/v1/events/{event_id}/erasure-notices", token=organiser)[0]["id"]

spare_sponsor = call(
    "POST",
    f"/api/v1/events/{event_id}/sponsors",
    {"name": "Spare sponsor", "privacy_policy_url": "https://spare.example/privacy"},
    organiser,
)["id"]

values = {
    "ST_ORGANISER": organiser,
    "ST_LOGOUT_SESSION": login(),
    "ST_KIOSK": kiosk,
    "ST_EVENT_ID": event_id,
    "ST_EVENT_SLUG": SLUG,
    "ST_PATCHED_EVENT_ID": spare_event("schemathesis-patched"),
    "ST_DELETED_EVENT_ID": spare_event("schemathesis-deleted"),
    "ST_SPONSOR_ID": sponsor_id,
    "ST_DELETED_SPONSOR_ID": spare_sponsor,
    "ST_REVOKED_KIOSK_ID": new_kiosk()["kiosk_id"],
    "ST_LEAD_ID": lead_id,
    "ST_NOTICE_ID": notice_id,
    "ST_MANAGE_TOKEN": attendee["manage_token"],
    "ST_RESTRICTED_MANAGE_TOKEN": restricted["manage_token"],
    "ST_CONSENTING_MANAGE_TOKEN": consenting["manage_token"],
    "ST_ERASED_MANAGE_TOKEN": erased["manage_token"],
}
for name, value in values.items():
    print(f"export {name}={shlex.quote(value)}")
