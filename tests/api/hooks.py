"""Schemathesis hooks for the Carebill billing API conformance run.

The auth hook signs in as the second demo member (whose login never appears in the schema's
examples, so fuzzed sign-ins cannot throttle it) and refreshes the token well before the
15-minute access-token lifetime ends, or at once when an answer is 401. Guest-pay calls also get
the demo kiosk's device credential (their guest-token paths then answer 401 to the member token;
guest tokens are covered by the server's integration tests).
"""

import json
import os
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
