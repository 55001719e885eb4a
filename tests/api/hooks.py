"""Schemathesis hooks for the Carebill billing API conformance run (`cargo xtask conformance`).

The OpenAPI document states every shape rule the server enforces; what a JSON Schema cannot say
is supplied here, so that generated requests reach the code behind validation:

- Checksums and dates relative to today: generated card numbers get a Luhn check digit,
  routing numbers an ABA check digit, card expiry dates a month not yet past (by the server's
  `Business-Date`) and a security code of the brand's length.
- Data that must exist: every other positive case of an operation that needs something real
  (a roster member to register, the code mailed to confirm it, a processor token, a saved
  method, an open bill, a guest statement, a receipt's confirmation number, an autopay rule
  with a charge to skip) gets it from the demo server, made through the API itself. The other
  positive cases keep their generated values, so the "valid shape, unknown data" answers are
  tested too.
- Credentials: members sign in as the second demo member (whose login never appears in the
  schema's examples, so fuzzed sign-ins cannot throttle it), again after a 401 (a fuzzed
  `DELETE /v1/sessions` or password change ends the session on purpose). Guest calls carry the
  conformance kiosk's device credential and a guest token for a statement issued for the run.

Negative cases are never touched, except that a password change always names the current
password: a wrong one would count as a failed sign-in of the account the run signs in with.
"""

import datetime
import json
import os
import re
import time
import urllib.error
import urllib.request

import schemathesis
from schemathesis import GenerationMode

LOGIN = "taylor.nguyen@carebill.example"
# Fuzzed guest lookups go through the demo's kiosk: lookups are limited per kiosk, and the
# run's own lookups (through the conformance kiosk) must never be refused for the fuzzed ones.
DEMO_KIOSK = "kdc_demo-front-desk"
PASSWORDS = ["correct horse battery staple", "violet harbor lantern 2040 quietly"]
MEMBER_PASSWORD = "plum orbit canyon lantern 7319"
# Conformance roster members (imported by xtask): M300000001..., all "Casey Conformance".
FIRST, LAST, BIRTH = "Casey", "Conformance", "1990-06-15"

STATE = {
    "password": PASSWORDS[0],
    "business_date": None,
    "next_member": 0,
    "guest": None,  # {"token", "at"}
    "guest_stale": False,
    "guest_tried": 0.0,
    "receipt_guest": None,  # a guest session only the given receipt cases use
    "receipts": 0,
    "counts": {},
}


# --- Talking to the demo server ---------------------------------------------------------------


def base():
    return os.environ["CAREBILL_API_URL"].rstrip("/")


def call(method, path, body=None, token=None, device=False, key=None):
    """One request; answers (status, parsed JSON or None)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if device:
        headers["X-Carebill-Device"] = os.environ["CAREBILL_CONFORMANCE_KIOSK"]
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base()}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            remember_business_date(response.headers.get("Business-Date"))
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, None


def remember_business_date(value):
    if value:
        STATE["business_date"] = datetime.date.fromisoformat(value)


def today():
    return STATE["business_date"] or datetime.date.today()


def sign_in():
    status, body = call("POST", "/v1/sessions", {"login": LOGIN, "password": STATE["password"]})
    if status != 201:
        raise RuntimeError(f"the conformance member cannot sign in: {status} {body}")
    return body


_MEMBER_TOKEN = {"token": None}


def member_token():
    if not _MEMBER_TOKEN["token"]:
        _MEMBER_TOKEN["token"] = sign_in()["access_token"]
    return _MEMBER_TOKEN["token"]


def as_member(method, path, body=None, key=None):
    status, answer = call(method, path, body, token=member_token(), key=key)
    if status == 401:
        _MEMBER_TOKEN["token"] = None
        status, answer = call(method, path, body, token=member_token(), key=key)
    return status, answer


def mailed(to, pattern):
    """The newest match of `pattern` in mail to `to` (the demo mailbox)."""
    _, mails = call("GET", "/dev/mailbox")
    for mail in reversed(mails or []):
        if mail["to"] == to:
            found = re.search(pattern, mail["body"])
            if found:
                return found.group(0)
    return None


def fresh_member():
    """The next unused conformance roster member: (member_id, email)."""
    STATE["next_member"] += 1
    n = STATE["next_member"]
    if n > int(os.environ.get("CAREBILL_CONFORMANCE_MEMBERS", "0")):
        return None
    return f"M3{n:08d}", f"casey.{n}@conformance.example"


def register(member_id, email):
    status, _ = call(
        "POST",
        "/v1/accounts",
        {
            "member_id": member_id,
            "first_name": FIRST,
            "last_name": LAST,
            "date_of_birth": BIRTH,
            "email": email,
            "password": MEMBER_PASSWORD,
        },
    )
    return status == 201


def registered_with_code():
    """A member with an unconfirmed registration and the code mailed for it: (email, code)."""
    member = fresh_member()
    if member and register(*member):
        code = mailed(member[1], r"\b[0-9]{6}\b")
        if code:
            return member[1], code
    return None


def confirmed_member():
    """A member with a confirmed account: their email."""
    pending = registered_with_code()
    if pending and call("POST", "/v1/accounts/verify", {"email": pending[0], "code": pending[1]})[0] == 204:
        return pending[0]
    return None


def card_token(number="4242424242424242"):
    year = today().year + 2
    status, body = call(
        "POST",
        "/processor/v1/tokens",
        {
            "card": {
                "number": number,
                "exp_month": 12,
                "exp_year": year,
                "cvc": "123",
                "postal_code": "94110",
                "holder_name": "Taylor Nguyen",
            }
        },
    )
    return body["token"] if status == 201 else None


def card_method():
    """The id of a saved card of the conformance member (saving one when none is left)."""
    _, methods = as_member("GET", "/v1/payment-methods")
    for method in (methods or {}).get("data", []):
        if method["type"] == "card":
            return method["id"]
    token = card_token()
    status, method = as_member("POST", "/v1/payment-methods", {"token": token})
    return method["id"] if status in (200, 201) else None


def open_bill(at_least="1.00"):
    _, page = as_member("GET", "/v1/bills?status=open&limit=100")
    for bill in (page or {}).get("data", []):
        if float(bill["payable"]) >= float(at_least):
            return bill["id"]
    return None


def autopay_on():
    """Turns autopay on (card, statement balance) when it is off; answers the rule."""
    status, rule = as_member("GET", "/v1/autopay")
    if status == 200:
        return rule
    method = card_method()
    body = {
        "payment_method_id": method,
        "amount": {"type": "statement_balance"},
        "max_amount": "5000.00",
        "timing": {"type": "due_date"},
    }
    status, rule = as_member("PUT", "/v1/autopay", body)
    return rule if status == 200 else None


def skippable_charge():
    """The bill of an upcoming autopay charge that can still be skipped (issuing a new bill,
    which autopay covers, when there is none)."""
    for _ in range(2):
        rule = autopay_on()
        for charge in (rule or {}).get("upcoming", []):
            if charge["can_skip"] and charge["status"] == "scheduled":
                return charge["bill_id"]
        call("POST", "/dev/bills", {"member_id": "M200000003"})
    return None


PLAN_AUTHORIZATION = "2026-12-card-instalments"


def plan_bill():
    """An open bill of $100 or more that no plan pays (issuing bills until there is one)."""
    for _ in range(6):
        _, page = as_member("GET", "/v1/bills?status=open&limit=100")
        for bill in (page or {}).get("data", []):
            if float(bill["payable"]) >= 100 and not bill.get("payment_plan_id"):
                return bill["id"]
        call("POST", "/dev/bills", {"member_id": "M200000003"})
    return None


def plan_body(bills):
    return {
        "bill_ids": bills,
        "months": 2,
        "day_of_month": 15,
        "payment_method_id": card_method(),
        "authorization": {"text_version": PLAN_AUTHORIZATION},
    }


def open_plan():
    """An open payment plan of the conformance member (setting one up when there is none)."""
    _, plans = as_member("GET", "/v1/payment-plans")
    for plan in (plans or {}).get("data", []):
        if plan["status"] in ("active", "paused", "behind"):
            return plan
    bill = plan_bill()
    if not bill:
        return None
    status, plan = as_member("POST", "/v1/payment-plans", plan_body([bill]), key=f"conformance-{time.monotonic_ns()}")
    return plan if status == 201 else None


def scheduled_payment():
    """A scheduled payment that can still be changed (scheduling one when there is none)."""
    _, listed = as_member("GET", "/v1/scheduled-payments")
    for s in (listed or {}).get("data", []):
        if s["status"] == "scheduled" and datetime.date.fromisoformat(s["pay_on"]) > today():
            return s
    body = scheduled_body()
    if not body:
        return None
    status, s = as_member("POST", "/v1/scheduled-payments", body, key=f"conformance-{time.monotonic_ns()}")
    return s if status == 201 else None


def scheduled_body():
    """A payment of $1.00 on a bill due at least a week from today, scheduled for tomorrow."""
    for _ in range(3):
        _, page = as_member("GET", "/v1/bills?status=open&limit=100")
        for bill in (page or {}).get("data", []):
            due = datetime.date.fromisoformat(bill["due_date"])
            if float(bill["payable"]) >= 1 and due > today() + datetime.timedelta(days=7):
                return {
                    "pay_on": (today() + datetime.timedelta(days=1)).isoformat(),
                    "payment_method_id": card_method(),
                    "allocations": [{"bill_id": bill["id"], "amount": "1.00"}],
                }
        call("POST", "/dev/bills", {"member_id": "M200000003"})
    return None


def guest_statement():
    """A new statement of a conformance member, for guest lookups."""
    member = fresh_member()
    if not member:
        return None
    status, bill = call("POST", "/dev/bills", {"member_id": member[0]})
    return bill["statement_number"] if status == 201 else None


def guest_lookup_body(statement):
    return {"statement_number": statement, "last_name": LAST, "date_of_birth": BIRTH}


def new_guest_session():
    """A guest token for a statement issued for the purpose, from the conformance kiosk."""
    statement = guest_statement()
    if not statement:
        return None
    status, session = call("POST", "/v1/guest/lookup", guest_lookup_body(statement), device=True)
    return session["guest_token"] if status == 201 else None


def guest_session():
    """The run's guest token (a lookup of a statement issued for it), renewed when it ended."""
    guest = STATE["guest"]
    if guest and not STATE["guest_stale"] and time.monotonic() - guest["at"] < 480:
        return guest
    # At most one lookup every few seconds, whatever answered 401 meanwhile.
    if time.monotonic() - STATE["guest_tried"] < 5:
        return guest
    STATE["guest_tried"] = time.monotonic()
    token = new_guest_session()
    if not token:
        return None
    STATE["guest"] = {"token": token, "at": time.monotonic()}
    STATE["guest_stale"] = False
    return STATE["guest"]


def receipt_session():
    """A guest session with receipts left (3 a session), and a payment to mail the receipt of:
    (guest token, confirmation number)."""
    current = STATE["receipt_guest"]
    if current and STATE["receipts"] < 3 and time.monotonic() - current["at"] < 480:
        return current["token"], current["paid"]
    token = new_guest_session()
    paid = guest_paid(token) if token else None
    if not paid:
        return None
    STATE["receipt_guest"] = {"token": token, "paid": paid, "at": time.monotonic()}
    STATE["receipts"] = 0
    return token, paid


def guest_paid(guest_token):
    """The confirmation number of a new guest payment of 1.00 with `guest_token`."""
    token = card_token()
    status, payment = call(
        "POST",
        "/v1/guest/payments",
        {"amount": "1.00", "token": token},
        token=guest_token,
        device=True,
        key=f"conformance-guest-{time.monotonic_ns()}",
    )
    return payment["confirmation_number"] if status == 201 else None


# --- Checksums ----------------------------------------------------------------------------------


def luhn_fixed(number):
    """`number` with its last digit replaced by the Luhn check digit (separators kept)."""
    digits = [int(c) for c in number if c.isdigit()]
    if not digits:
        return number
    total = 0
    for i, d in enumerate(reversed(digits[:-1])):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    check = str((10 - total % 10) % 10)
    last = max(i for i, c in enumerate(number) if c.isdigit())
    return number[:last] + check + number[last + 1 :]


def aba_fixed(routing):
    if not re.fullmatch(r"[0-9]{9}", routing or ""):
        return routing
    weights = [3, 7, 1, 3, 7, 1, 3, 7]
    total = sum(int(c) * w for c, w in zip(routing[:8], weights))
    return routing[:8] + str((10 - total % 10) % 10)


def fix_card(card):
    number = card.get("number")
    if isinstance(number, str) and re.fullmatch(r"[0-9]([ -]?[0-9]){12,18}", number):
        card["number"] = luhn_fixed(number)
        digits = re.sub(r"[ -]", "", card["number"])
        amex = digits[:2] in ("34", "37")
        cvc = card.get("cvc")
        if isinstance(cvc, str) and re.fullmatch(r"[0-9]{3,4}", cvc):
            card["cvc"] = (cvc + "0000")[: 4 if amex else 3]
    year, month = card.get("exp_year"), card.get("exp_month")
    if isinstance(year, int) and isinstance(month, int) and 1 <= month <= 12:
        now = today()
        if (year, month) < (now.year, now.month) or year > now.year + 20:
            card["exp_year"] = now.year + 1 + year % 19
    name = card.get("holder_name")
    if isinstance(name, str) and not name.strip():
        card["holder_name"] = "Pat Conformance"


# --- Per-operation data --------------------------------------------------------------------------


def give_create_account(case):
    member = fresh_member()
    if member:
        case.body.update(
            member_id=member[0],
            first_name=FIRST,
            last_name=LAST,
            date_of_birth=BIRTH,
            email=member[1],
            password=MEMBER_PASSWORD,
        )


def give_verify_email(case):
    if case.body.get("email", "").endswith("@conformance.example"):
        # From a link: the code mailed for that registration.
        code = mailed(case.body["email"], r"\b[0-9]{6}\b")
        if code:
            case.body["code"] = code
        return
    pending = registered_with_code()
    if pending:
        case.body.update(email=pending[0], code=pending[1])


def give_confirm_reset(case):
    email = case.body.get("email", "")
    if not email.endswith("@conformance.example"):
        email = confirmed_member()
        if not email:
            return
        call("POST", "/v1/password-resets", {"email": email})
    code = mailed(email, r"\b[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}\b")
    if code:
        case.body.update(email=email, code=code, new_password=MEMBER_PASSWORD + " again")


def give_create_session(case):
    case.body.update(login=LOGIN, password=STATE["password"])


def give_refresh(case):
    case.body["refresh_token"] = sign_in()["refresh_token"]


def give_token(case):
    body = case.body
    if isinstance(body.get("card"), dict):
        fix_card(body["card"])
    if isinstance(body.get("bank_account"), dict):
        account = body["bank_account"]
        account["routing_number"] = aba_fixed(account.get("routing_number"))
        name = account.get("holder_name")
        if isinstance(name, str) and not name.strip():
            account["holder_name"] = "Pat Conformance"


def give_payment_method(case):
    token = card_token(luhn_fixed("4000056655665550"))
    if token:
        case.body["token"] = token


def new_key(case):
    """A key of its own: the generated ones repeat across cases, and a key reused for another
    payment is refused (`idempotency_key_reused`) by design."""
    case.headers = case.headers or {}
    case.headers["Idempotency-Key"] = f"conformance-{time.monotonic_ns()}"


def give_payment(case):
    method = case.body.get("payment_method_id")
    if not (isinstance(method, str) and method.startswith("pm_")):
        method = card_method()
    bill = open_bill()
    if method and bill:
        case.body.pop("token", None)
        case.body.pop("ach_authorization", None)
        case.body.update(payment_method_id=method, allocations=[{"bill_id": bill, "amount": "1.00"}])
        new_key(case)


def give_autopay(case):
    # A card: a bank account would need the recurring authorization, which a generated body
    # does not carry.
    method = card_method()
    if method:
        case.body["payment_method_id"] = method
        case.body.pop("ach_authorization", None)
        max_amount = case.body.get("max_amount")
        if not (isinstance(max_amount, str) and float(max_amount) > 0):
            case.body["max_amount"] = "500.00"
        amount = case.body.get("amount")
        if isinstance(amount, dict) and amount.get("type") == "fixed":
            value = amount.get("value")
            if not (isinstance(value, str) and 0 < float(value) <= float(case.body["max_amount"])):
                amount["value"] = case.body["max_amount"]


def give_skip(case):
    bill = skippable_charge()
    if bill:
        case.body["bill_id"] = bill


def give_plan(case):
    bill = plan_bill()
    if bill:
        case.body.clear()
        case.body.update(plan_body([bill]))
        new_key(case)


def give_scheduled(case):
    body = scheduled_body()
    if body:
        case.body.clear()
        case.body.update(body)
        new_key(case)


def with_version(case, thing):
    case.path_parameters = case.path_parameters or {}
    case.path_parameters["id"] = thing["id"]
    case.headers = case.headers or {}
    case.headers["If-Match"] = f'"{thing["version"]}"'


def give_existing_plan(case):
    """An open plan's id and version; new terms, or a pause within the policy, for its body."""
    plan = open_plan()
    if not plan:
        return
    with_version(case, plan)
    label = case.operation.label
    if label == "PUT /v1/payment-plans/{id}" and isinstance(case.body, dict):
        case.body.clear()
        case.body.update(plan_body([b["bill_id"] for b in plan["bills"] if b["on_plan"]]))
    elif label == "POST /v1/payment-plans/{id}/pause" and isinstance(case.body, dict):
        case.body.clear()
        case.body["until"] = (today() + datetime.timedelta(days=10)).isoformat()


def give_existing_scheduled(case):
    s = scheduled_payment()
    if not s:
        return
    with_version(case, s)
    if case.operation.label == "PUT /v1/scheduled-payments/{id}" and isinstance(case.body, dict):
        body = scheduled_body()
        if body:
            case.body.clear()
            case.body.update(body)


def give_guest_lookup(case):
    statement = guest_statement()
    if statement:
        case.headers["X-Carebill-Device"] = os.environ["CAREBILL_CONFORMANCE_KIOSK"]
        case.body.update(guest_lookup_body(statement))


def give_guest_payment(case):
    token = case.body.get("token")
    if not (isinstance(token, str) and token.startswith("tok_")):
        token = card_token()
    if token:
        case.body.pop("ach_authorization", None)
        case.body.update(token=token, amount="1.00")
        new_key(case)


def give_guest_receipt(case):
    # A guest session of its own: receipts are limited per session, and the fuzzed ones
    # spend the shared session's.
    found = receipt_session()
    if found:
        STATE["receipts"] += 1
        case.headers["Authorization"] = f"Bearer {found[0]}"
        case.body.update(confirmation_number=found[1], email="guest@conformance.example")


def open_conversation():
    """An open question of the conformance member, about nothing in particular (asking one when
    there is none): questions about a bill would hold its automatic payments."""
    _, page = as_member("GET", "/v1/conversations?limit=100")
    for c in (page or {}).get("data", []):
        if c["status"] != "closed":
            return c
    status, c = as_member(
        "POST", "/v1/conversations", {"topic": "other", "body": "A question from the conformance run."},
        key=f"conformance-{time.monotonic_ns()}",
    )
    return c if status == 201 else None


def small_pdf():
    """A real one-page PDF (the server decides what a file is by its content)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = b"%PDF-1.7\n"
    offsets = []
    for i, o in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def uploaded_attachment():
    """A file the conformance member uploaded and has not sent (uploading one each time)."""
    data = small_pdf()
    request = urllib.request.Request(
        f"{base()}/v1/attachments?file_name=conformance.pdf", data=data, method="POST",
        headers={"Authorization": f"Bearer {member_token()}", "Idempotency-Key": f"conformance-{time.monotonic_ns()}",
                 "Content-Type": "application/octet-stream"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError:
        return None


def give_upload(case):
    """A real PDF as the body (a generated body of bytes is not one, and is refused 415)."""
    case.body = small_pdf()
    case.headers = case.headers or {}
    case.headers["Content-Type"] = "application/octet-stream"
    new_key(case)


def give_conversation_body(case):
    """A question or reply with a file uploaded for it (a generated id names no file)."""
    attachment = uploaded_attachment()
    if attachment:
        case.body["attachment_ids"] = [attachment["id"]]
        case.body.pop("bill_id", None)
        case.body.pop("line", None)
    new_key(case)


def give_existing_conversation(case):
    c = open_conversation()
    if c:
        case.path_parameters = case.path_parameters or {}
        case.path_parameters["id"] = c["id"]
        if case.operation.label == "POST /v1/conversations/{id}/messages" and isinstance(case.body, dict):
            give_conversation_body(case)


def give_existing_attachment(case):
    attachment = uploaded_attachment()
    if attachment:
        case.path_parameters = case.path_parameters or {}
        case.path_parameters["id"] = attachment["id"]


def give_dev_bill(case):
    case.body["member_id"] = "M200000003"


GIVE = {
    "POST /v1/accounts": give_create_account,
    "POST /v1/accounts/verify": give_verify_email,
    "POST /v1/password-resets/confirm": give_confirm_reset,
    "POST /v1/sessions": give_create_session,
    "POST /v1/sessions/refresh": give_refresh,
    "POST /v1/payment-methods": give_payment_method,
    "POST /v1/payments": give_payment,
    "PUT /v1/autopay": give_autopay,
    "POST /v1/autopay/skip": give_skip,
    "POST /v1/payment-plans": give_plan,
    "POST /v1/scheduled-payments": give_scheduled,
    "POST /v1/guest/lookup": give_guest_lookup,
    "POST /v1/guest/payments": give_guest_payment,
    "POST /v1/guest/receipt": give_guest_receipt,
    "POST /dev/bills": give_dev_bill,
    "POST /v1/conversations": give_conversation_body,
}
# Given on every positive case, not every other one: most generated autopay rules break a
# business rule (a fixed amount over the maximum, a bank account without its authorization), and
# the run warns when an operation mostly answers 422.
GIVE_EVERY = {"PUT /v1/autopay"}
# Given at most this many times an operation and phase (each costs a guest lookup, and lookups
# are limited per kiosk).
GIVE_AT_MOST = {"POST /v1/guest/lookup": 2, "POST /v1/guest/receipt": 3}
# Repairs that only make generated values pass checksums: every positive case gets them.
REPAIR = {
    "POST /processor/v1/tokens": give_token,
}
# Operations on one plan or one scheduled payment: an existing one, with its version.
EXISTING = {
    "GET /v1/payment-plans/{id}": give_existing_plan,
    "PUT /v1/payment-plans/{id}": give_existing_plan,
    "POST /v1/payment-plans/{id}/cancel": give_existing_plan,
    "POST /v1/payment-plans/{id}/pause": give_existing_plan,
    "POST /v1/payment-plans/{id}/resume": give_existing_plan,
    "GET /v1/scheduled-payments/{id}": give_existing_scheduled,
    "PUT /v1/scheduled-payments/{id}": give_existing_scheduled,
    "POST /v1/scheduled-payments/{id}/cancel": give_existing_scheduled,
    "GET /v1/conversations/{id}": give_existing_conversation,
    "POST /v1/conversations/{id}/messages": give_existing_conversation,
    "POST /v1/conversations/{id}/close": give_existing_conversation,
    "GET /v1/attachments/{id}": give_existing_attachment,
}
# Operations that read or end the autopay rule: there is always one to read or end.
NEEDS_AUTOPAY = {"GET /v1/autopay", "DELETE /v1/autopay", "GET /v1/autopay/upcoming"}


def positive(case):
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def before_call(context, case, kwargs):
    """Right before sending (not at generation, which runs ahead of the calls): the data then
    reflects what earlier calls did, like a changed password or a used-up statement."""
    label = case.operation.label
    if label == "POST /v1/me/password" and isinstance(case.body, dict):
        current = case.body.get("current_password")
        if isinstance(current, str) and 0 < len(current) <= 256:
            case.body["current_password"] = STATE["password"]
        if positive(case):
            case.body["new_password"] = PASSWORDS[1] if STATE["password"] == PASSWORDS[0] else PASSWORDS[0]
        return
    if label == "GET /processor/v1/banks/{routing_number}" and case.path_parameters:
        case.path_parameters["routing_number"] = aba_fixed(case.path_parameters.get("routing_number"))
        return
    if label == "POST /dev/clock" and positive(case) and isinstance(case.body, dict):
        # The clock only moves forward: keep each step short, or tokens, cards and the
        # guest session of the rest of the run would expire under it.
        case.body["advance"] = "PT1M"
        return
    if not positive(case):
        return
    if label in NEEDS_AUTOPAY:
        skippable_charge()
        return
    if label in EXISTING:
        phase = case.meta.phase.name.value
        n = STATE["counts"].get((label, phase), 0)
        STATE["counts"][(label, phase)] = n + 1
        if n % 2 == 0:
            EXISTING[label](case)
        return
    if label == "POST /v1/attachments":
        # Every positive case: generated bytes are never a PDF, JPEG or PNG.
        give_upload(case)
        return
    if not isinstance(case.body, dict):
        return
    if label in REPAIR:
        REPAIR[label](case)
        return
    give = GIVE.get(label)
    if give:
        phase = case.meta.phase.name.value
        n = STATE["counts"].get((label, phase), 0)
        STATE["counts"][(label, phase)] = n + 1
        if label in GIVE_EVERY or (n % 2 == 0 and n // 2 < GIVE_AT_MOST.get(label, n // 2 + 1)):
            give(case)


@schemathesis.deserializer("application/pdf", "image/jpeg", "image/png")
def file_bytes(ctx, response):
    """An attachment's bytes, as the string of binary format its schema says (one char a byte)."""
    return response.content.decode("latin-1")


@schemathesis.auth(refresh_interval=600, retry_on=[401])
class CarebillSignIn:
    def get(self, case, context):
        _MEMBER_TOKEN["token"] = None
        return sign_in()["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
        if case.path == "/v1/guest/lookup":
            case.headers["X-Carebill-Device"] = DEMO_KIOSK
        elif case.path.startswith("/v1/guest/"):
            case.headers["X-Carebill-Device"] = os.environ["CAREBILL_CONFORMANCE_KIOSK"]
            guest = guest_session()
            if guest:
                case.headers["Authorization"] = f"Bearer {guest['token']}"


@schemathesis.hook
def after_call(context, case, response):
    remember_business_date((response.headers.get("business-date") or [None])[0])
    label = case.operation.label
    status = response.status_code
    if label == "POST /v1/me/password" and status == 204:
        STATE["password"] = case.body["new_password"]
    if label.startswith(("GET /v1/guest/", "POST /v1/guest/")) and label != "POST /v1/guest/lookup" and status == 401:
        STATE["guest_stale"] = True
    log = os.environ.get("CAREBILL_CONFORMANCE_LOG")
    if log:
        mode = case.meta.generation.mode.value if case.meta else "?"
        phase = case.meta.phase.name.value if case.meta else "?"
        try:
            code = response.json().get("error", {}).get("code", "")
        except Exception:  # noqa: BLE001 - not every answer has a body
            code = ""
        with open(log, "a") as f:
            extra = json.dumps(case.body, default=str)[:200] if os.environ.get("CAREBILL_CONFORMANCE_LOG_BODY") else ""
            f.write(f"{label}\t{phase}\t{mode}\t{status}\t{code}\t{extra}\n")
