"""Schemathesis hooks for the Carebill billing API conformance run.

The auth hook signs in as the second demo member (whose login never appears in the schema's
examples, so fuzzed sign-ins cannot throttle it) and refreshes the token well before the
15-minute access-token lifetime ends, or at once when an answer is 401. Guest-pay calls get the
demo kiosk's device credential and, past the lookup, a guest token from a real lookup of the
demo's guest statement (CAREBILL_GUEST_STATEMENT, from the demo server's banner), kept for eight
of its ten minutes.
"""

import json
import os
import time
import urllib.request

import schemathesis

LOGIN = "taylor.nguyen@carebill.example"
# The demo server's enrolled kiosk (guest endpoints need a device credential).
DEMO_KIOSK_CREDENTIAL = "kdc_demo-front-desk"
PASSWORD = "correct horse battery staple"


@schemathesis.auth(refresh_interval=600, retry_on=[401])
class CarebillSignIn:
    def get(self, case, context):
        base = os.environ["CAREBILL_API_URL"].rstrip("/")
        body = json.dumps({"login": LOGIN, "password": PASSWORD}).encode()
        request = urllib.request.Request(
            f"{base}/v1/sessions",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
        if case.path.startswith("/v1/guest/"):
            case.headers["X-Carebill-Device"] = DEMO_KIOSK_CREDENTIAL
            guest = guest_token() if case.path != "/v1/guest/lookup" else None
            if guest:
                case.headers["Authorization"] = f"Bearer {guest}"


_GUEST = {"token": None, "at": 0.0}


def guest_token():
    """A guest token for the demo's guest statement, or None when no lookup succeeds (then the
    guest operations answer 401, as documented)."""
    statement = os.environ.get("CAREBILL_GUEST_STATEMENT", "")
    if not statement:
        return None
    if _GUEST["token"] and time.monotonic() - _GUEST["at"] < 480:
        return _GUEST["token"]
    base = os.environ["CAREBILL_API_URL"].rstrip("/")
    body = json.dumps(
        {"statement_number": statement, "last_name": "Rivera", "date_of_birth": "1985-04-12"}
    ).encode()
    request = urllib.request.Request(
        f"{base}/v1/guest/lookup",
        data=body,
        headers={"Content-Type": "application/json", "X-Carebill-Device": DEMO_KIOSK_CREDENTIAL},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            _GUEST["token"] = json.load(response)["guest_token"]
            _GUEST["at"] = time.monotonic()
    except Exception:  # noqa: BLE001 - a refused lookup leaves the guest operations at 401
        return None
    return _GUEST["token"]
