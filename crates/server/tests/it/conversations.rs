//! Conversations with the billing office: scoping, exactly-once sending, every input class, the
//! attachment route (its own limit, content checks, storage), staff replies and their mail, and
//! the hold a question about a bill puts on autopay, plan instalments and scheduled payments.

use carebill_server::conversations::{StaffFile, StaffReply, StaffStatus, staff_reply};
use carebill_testkit::samples;
use serde_json::{Value, json};

use crate::autopay::{autopay_payments, issue_bill, put_autopay, rule};
use crate::harness::*;

const REPLY_SUBJECT: &str = "Carebill: you have a reply";

pub(crate) async fn ask(s: &TestServer, token: &str, key: &str, body: Value) -> Resp {
    s.send(
        s.http
            .post(format!("{}/v1/conversations", s.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

pub(crate) async fn write(s: &TestServer, token: &str, id: &str, key: &str, body: Value) -> Resp {
    s.send(
        s.http
            .post(format!("{}/v1/conversations/{id}/messages", s.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

async fn upload(s: &TestServer, token: &str, key: &str, name: &str, bytes: Vec<u8>) -> Resp {
    s.send(
        s.http
            .post(format!("{}/v1/attachments", s.base))
            .query(&[("file_name", name)])
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/octet-stream")
            .body(bytes),
    )
    .await
}

/// The billing office answers (as `carebill-server staff reply` does).
async fn staff(s: &TestServer, reference: &str, body: &str, status: StaffStatus, files: Vec<StaffFile>) -> Value {
    let head = s.server.state.letterhead();
    let secret = s.server.state.secret.clone();
    let (reference, body, now) = (reference.to_string(), body.to_string(), s.clock_now());
    let max = s.server.state.config.max_attachment_bytes;
    let c = s
        .server
        .state
        .db
        .transaction(move |tx| {
            let reply = StaffReply {
                reference: &reference,
                staff_name: "Dana, billing office",
                body: &body,
                status,
                files: &files,
                origin: "test",
            };
            staff_reply(tx, &head, &secret, &reply, max, now)
        })
        .await
        .unwrap();
    serde_json::to_value(c).unwrap()
}

pub(crate) async fn close(s: &TestServer, token: &str, id: &str) -> Resp {
    s.post_auth(&format!("/v1/conversations/{id}/close"), token, json!({}))
        .await
}

#[tokio::test]
async fn a_question_is_sent_once_per_key_seen_only_by_its_member_and_synced() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let bill = s.payable_bills(&token).await[0].clone();
    let bill_id = bill["id"].as_str().unwrap();
    let body = json!({"topic": "unrecognized_charge", "bill_id": bill_id, "line": 1, "body": "What is line 1 for?"});

    let made = ask(&s, &token, "q-1", body.clone()).await;
    made.expect(201);
    let id = made.body["id"].as_str().unwrap().to_string();
    let reference = made.body["reference"].as_str().unwrap();
    assert!(reference.starts_with("Q-") && reference.len() == 10, "{reference}");
    assert_eq!(made.body["status"], "open");
    assert_eq!(made.body["line"], 1);
    assert_eq!(made.body["messages"][0]["author"], "member");
    assert_eq!(made.body["messages"][0]["body"], "What is line 1 for?");

    // A double click, a lost answer, a retry from the outbox: the same conversation, once.
    let again = ask(&s, &token, "q-1", body.clone()).await;
    again.expect(200);
    assert_eq!(again.body["id"], id);
    let mut changed = body.clone();
    changed["body"] = json!("Something different");
    ask(&s, &token, "q-1", changed)
        .await
        .expect_error(422, "idempotency_key_reused");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM conversations WHERE member_id = 'M200000001'")
            .await,
        1
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM conversation_messages WHERE member_id = 'M200000001'")
            .await,
        1
    );

    // The bill is under review, and says by which conversation.
    assert_eq!(s.bill(&token, bill_id).await["open_conversation_id"], id);

    // Another member sees none of it, and cannot write to it, close it or use its key space.
    s.get(&format!("/v1/conversations/{id}"), &other)
        .await
        .expect_error(404, "conversation_not_found");
    write(&s, &other, &id, "x", json!({"body": "hi"}))
        .await
        .expect_error(404, "conversation_not_found");
    close(&s, &other, &id).await.expect_error(404, "conversation_not_found");
    let theirs = s.get("/v1/conversations", &other).await;
    assert!(theirs.body["data"].as_array().unwrap().iter().all(|c| c["id"] != id));
    let theirs = ask(&s, &other, "q-1", json!({"topic": "other", "body": "Mine"})).await;
    theirs.expect(201);
    assert_ne!(theirs.body["id"], id, "keys are per member");
    ask(
        &s,
        &other,
        "q-2",
        json!({"topic": "other", "bill_id": bill_id, "body": "Not my bill"}),
    )
    .await
    .expect_error(404, "bill_not_found");

    // Replies: once per key; the conversation is open again.
    let reply = write(&s, &token, &id, "r-1", json!({"body": "Also line 2"})).await;
    reply.expect(201);
    write(&s, &token, &id, "r-1", json!({"body": "Also line 2"}))
        .await
        .expect(200);
    assert_eq!(
        s.get(&format!("/v1/conversations/{id}"), &token).await.body["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The list and the change feed carry it.
    let list = s.get("/v1/conversations", &token).await;
    list.expect(200);
    assert_eq!(list.body["data"][0]["id"], id);
    let sync = s.get("/v1/sync", &token).await;
    let change = sync.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entity"] == "conversation")
        .expect("the conversation is in the feed")
        .clone();
    assert_eq!(change["data"]["messages"][1]["body"], "Also line 2");

    // Closed: replies are refused, closing again changes nothing, the bill is no longer held.
    let closed = close(&s, &token, &id).await;
    closed.expect(200);
    assert_eq!(closed.body["status"], "closed");
    close(&s, &token, &id).await.expect(200);
    write(&s, &token, &id, "r-2", json!({"body": "One more"}))
        .await
        .expect_error(409, "conversation_closed");
    assert!(s.bill(&token, bill_id).await.get("open_conversation_id").is_none());
    s.stop().await;
}

#[tokio::test]
async fn every_bad_question_is_refused_with_its_code_and_changes_nothing() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0].clone();
    let bill_id = bill["id"].as_str().unwrap();
    let lines = s.bill(&token, bill_id).await["line_items"].as_array().unwrap().len();
    let long = "x".repeat(2001);
    let cases = [
        (json!({"topic": "other", "body": ""}), 422, "validation_failed", "/body"),
        (
            json!({"topic": "other", "body": "   \n "}),
            422,
            "validation_failed",
            "/body",
        ),
        (
            json!({"topic": "other", "body": long}),
            422,
            "validation_failed",
            "/body",
        ),
        (
            json!({"topic": "other", "body": "a\u{0}b"}),
            422,
            "validation_failed",
            "/body",
        ),
        (
            json!({"topic": "gossip", "body": "hi"}),
            422,
            "validation_failed",
            "/topic",
        ),
        (json!({"body": "hi"}), 422, "validation_failed", "/topic"),
        (
            json!({"topic": "other", "body": "hi", "line": 1}),
            422,
            "validation_failed",
            "/line",
        ),
        (
            json!({"topic": "other", "body": "hi", "bill_id": bill_id, "line": 0}),
            422,
            "validation_failed",
            "/line",
        ),
        (
            json!({"topic": "other", "body": "hi", "bill_id": bill_id, "line": lines + 1}),
            422,
            "validation_failed",
            "/line",
        ),
        (
            json!({"topic": "other", "body": "hi", "bill_id": "bil_nope"}),
            404,
            "bill_not_found",
            "/bill_id",
        ),
        (
            json!({"topic": "other", "body": "hi", "attachment_ids": ["att_nope"]}),
            404,
            "attachment_not_found",
            "/attachment_ids/0",
        ),
        (
            json!({"topic": "other", "body": "hi", "extra": 1}),
            422,
            "validation_failed",
            "/extra",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = ask(&s, &token, "k", body.clone()).await;
        r.expect_error(status, code);
        assert_eq!(r.field(), field, "{body}");
    }
    // No key, a bad key, not JSON, too large a JSON body (its limit stays 64 KiB).
    let no_key = s
        .send(
            s.http
                .post(format!("{}/v1/conversations", s.base))
                .bearer_auth(&token)
                .json(&json!({"topic": "other", "body": "hi"})),
        )
        .await;
    no_key.expect_error(400, "idempotency_key_missing");
    ask(&s, &token, "bad key:", json!({"topic": "other", "body": "hi"}))
        .await
        .expect_error(400, "idempotency_key_missing");
    let huge = json!({"topic": "other", "body": "y".repeat(70 * 1024)});
    ask(&s, &token, "k", huge).await.expect_error(413, "payload_too_large");
    s.send(
        s.http
            .post(format!("{}/v1/conversations", s.base))
            .bearer_auth(&token)
            .header("Idempotency-Key", "k")
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await
    .expect_error(400, "invalid_json");
    // Unsigned.
    s.send(s.http.get(format!("{}/v1/conversations", s.base)))
        .await
        .expect_error(401, "unauthenticated");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM conversations WHERE member_id = 'M200000001'")
            .await,
        0
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM conversation_messages WHERE member_id = 'M200000001'")
            .await,
        0
    );
    s.stop().await;
}

#[tokio::test]
async fn attachments_are_known_by_content_with_their_own_size_limit_and_stay_with_their_member() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;

    // Refused, whatever the name says, and nothing is stored.
    let max = carebill_api::MAX_ATTACHMENT_BYTES;
    let refused = [
        ("setup.pdf", samples::program(), 415, "attachment_type_not_allowed"),
        ("statement.pdf", samples::html(), 415, "attachment_type_not_allowed"),
        ("scan.pdf", samples::zip(), 415, "attachment_type_not_allowed"),
        ("empty.pdf", Vec::new(), 422, "attachment_empty"),
        (
            "cut.pdf",
            samples::pdf("cut")[..200].to_vec(),
            422,
            "attachment_truncated",
        ),
        ("big.pdf", samples::pdf_of_size(max + 1), 413, "attachment_too_large"),
    ];
    for (name, bytes, status, code) in refused {
        upload(&s, &token, name, name, bytes).await.expect_error(status, code);
    }
    // A body that grows past the limit without announcing its length (chunked).
    assert_eq!(chunked_upload(&s, &token, samples::pdf_of_size(max + 1)).await, 413);
    upload(&s, &token, "n", "../../etc/passwd", samples::pdf("x"))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(s.count("SELECT COUNT(*) FROM attachments").await, 0);

    // Exactly the limit is accepted; a PNG named .pdf is a PNG.
    let at_limit = upload(&s, &token, "limit", "limit.pdf", samples::pdf_of_size(max)).await;
    at_limit.expect(201);
    assert_eq!(at_limit.body["size"], max);
    let png = upload(&s, &token, "png", "photo.pdf", samples::png()).await;
    png.expect(201);
    assert_eq!(png.body["kind"], "png");
    let pdf_bytes = samples::pdf("Itemized statement");
    let pdf = upload(&s, &token, "pdf", "itemized.pdf", pdf_bytes.clone()).await;
    pdf.expect(201);
    // The same upload again (a retry) is the same file; the key with another file is refused.
    let again = upload(&s, &token, "pdf", "itemized.pdf", pdf_bytes.clone()).await;
    again.expect(200);
    assert_eq!(again.body["id"], pdf.body["id"]);
    upload(&s, &token, "pdf", "itemized.pdf", samples::jpeg())
        .await
        .expect_error(422, "idempotency_key_reused");

    // Sent with a question; read back byte for byte, as a download; another member gets 404.
    let ids = [pdf.body["id"].clone(), png.body["id"].clone()];
    let made = ask(
        &s,
        &token,
        "with-files",
        json!({"topic": "itemized_bill", "body": "Here is my statement", "attachment_ids": ids}),
    )
    .await;
    made.expect(201);
    let files = made.body["messages"][0]["attachments"].as_array().unwrap().clone();
    assert_eq!(files.len(), 2);
    let path = format!("{}/v1/attachments/{}", s.base, ids[0].as_str().unwrap());
    let got = s.http.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), pdf_bytes);
    s.get(&format!("/v1/attachments/{}", ids[0].as_str().unwrap()), &other)
        .await
        .expect_error(404, "attachment_not_found");
    // Their files are not attachable by anyone else, and a sent file is not sent twice.
    ask(
        &s,
        &other,
        "steal",
        json!({"topic": "other", "body": "x", "attachment_ids": [ids[1]]}),
    )
    .await
    .expect_error(404, "attachment_not_found");
    let twice = ask(
        &s,
        &token,
        "twice",
        json!({"topic": "other", "body": "x", "attachment_ids": [ids[1]]}),
    )
    .await;
    twice.expect_error(422, "validation_failed");
    assert_eq!(twice.field(), "/attachment_ids/0");
    // Six files on one message are too many.
    let mut six = Vec::new();
    for i in 0..6 {
        let r = upload(&s, &token, &format!("six-{i}"), "p.png", samples::png()).await;
        six.push(r.body["id"].clone());
    }
    ask(
        &s,
        &token,
        "six",
        json!({"topic": "other", "body": "x", "attachment_ids": six}),
    )
    .await
    .expect_error(422, "too_many_attachments");

    // Files never sent are deleted after a day: the limit-sized one and the six.
    let unsent = s
        .count("SELECT COUNT(*) FROM attachments WHERE message_id IS NULL")
        .await;
    assert_eq!(unsent, 7);
    let now = s.clock_now() + chrono::Duration::days(2);
    s.server
        .state
        .db
        .transaction(move |tx| carebill_server::conversations::purge_unsent(tx, now))
        .await
        .unwrap();
    assert_eq!(s.count("SELECT COUNT(*) FROM attachments").await, 2);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM attachment_chunks WHERE attachment_id NOT IN (SELECT id FROM attachments)")
            .await,
        0
    );
    s.stop().await;
}

/// Uploads `bytes` with `Transfer-Encoding: chunked` (no length announced), answering the status.
async fn chunked_upload(s: &TestServer, token: &str, bytes: Vec<u8>) -> u16 {
    use std::io::{Read, Write};
    let (addr, token) = (s.server.addr, token.to_string());
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /v1/attachments?file_name=big.pdf HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
             Idempotency-Key: chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        for chunk in bytes.chunks(1024 * 1024) {
            // The server may answer and close as soon as the limit is passed.
            if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || stream.write_all(chunk).is_err()
                || stream.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_staff_reply_is_shown_with_its_name_and_mailed_once_without_its_text() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let made = ask(
        &s,
        &token,
        "q",
        json!({"topic": "already_paid", "body": "I paid this at the desk"}),
    )
    .await;
    made.expect(201);
    let (id, reference) = (
        made.body["id"].as_str().unwrap().to_string(),
        made.body["reference"].as_str().unwrap().to_string(),
    );
    let secret = "Your receipt 4471 shows the payment on Nov 3";
    let replied = staff(
        &s,
        &reference.to_lowercase(),
        secret,
        StaffStatus::WaitingOnMember,
        vec![StaffFile {
            file_name: "receipt.png".into(),
            bytes: samples::png(),
        }],
    )
    .await;
    assert_eq!(replied["status"], "waiting_on_member");
    let reply = &replied["messages"][1];
    assert_eq!(
        (reply["author"].as_str(), reply["staff_name"].as_str()),
        (Some("staff"), Some("Dana, billing office"))
    );
    assert_eq!(reply["attachments"][0]["kind"], "png");
    // The member can download the office's file.
    s.get(
        &format!("/v1/attachments/{}", reply["attachments"][0]["id"].as_str().unwrap()),
        &token,
    )
    .await
    .expect(200);
    let mails: Vec<Value> = s
        .mailbox()
        .await
        .into_iter()
        .filter(|m| m["subject"] == REPLY_SUBJECT)
        .collect();
    assert_eq!(mails.len(), 1);
    let text = mails[0]["body"].as_str().unwrap();
    assert!(text.contains(&reference) && text.contains("Messages"), "{text}");
    assert!(
        !text.contains("4471") && !text.contains("receipt"),
        "no message text in mail: {text}"
    );

    // The member answers: open again. The office closes it with a last reply.
    write(&s, &token, &id, "r", json!({"body": "Attached"}))
        .await
        .expect(201);
    assert_eq!(
        s.get(&format!("/v1/conversations/{id}"), &token).await.body["status"],
        "open"
    );
    let closed = staff(&s, &reference, "Thanks, all settled.", StaffStatus::Closed, vec![]).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(
        s.mailbox()
            .await
            .iter()
            .filter(|m| m["subject"] == REPLY_SUBJECT)
            .count(),
        2,
        "one mail per reply"
    );
    // A closed conversation takes no more replies from either side; unknown references and bad
    // input are refused.
    let head = s.server.state.letterhead();
    let secret = s.server.state.secret.clone();
    let now = s.clock_now();
    let errors = s
        .server
        .state
        .db
        .transaction(move |tx| {
            let mut codes = Vec::new();
            for (reference, name, body, files) in [
                (reference.as_str(), "Dana", "More", vec![]),
                ("Q-NOPE2345", "Dana", "Hi", vec![]),
                (reference.as_str(), "", "Hi", vec![]),
                (
                    reference.as_str(),
                    "Dana",
                    "Hi",
                    vec![StaffFile {
                        file_name: "run.pdf".into(),
                        bytes: samples::program(),
                    }],
                ),
            ] {
                let reply = StaffReply {
                    reference,
                    staff_name: name,
                    body,
                    status: StaffStatus::Answered,
                    files: &files,
                    origin: "test",
                };
                let e = staff_reply(tx, &head, &secret, &reply, 1 << 20, now).unwrap_err();
                codes.push(e.code.as_str().to_string());
            }
            Ok(codes)
        })
        .await
        .unwrap();
    assert_eq!(
        errors,
        [
            "conversation_closed",
            "conversation_not_found",
            "validation_failed",
            "conversation_closed"
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn a_question_about_a_bill_holds_autopay_and_scheduled_payments_until_it_is_closed() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    put_autopay(&s, &token, rule(&card, "99999.99", json!({"type": "due_date"})))
        .await
        .expect(200);
    let questioned = issue_bill(&s).await;
    let plain = issue_bill(&s).await;
    let (q_id, p_id) = (questioned["id"].as_str().unwrap(), plain["id"].as_str().unwrap());
    let made = ask(
        &s,
        &token,
        "hold",
        json!({"topic": "insurance_should_have_paid", "bill_id": q_id, "body": "Insurance?"}),
    )
    .await;
    made.expect(201);
    let conversation = made.body["id"].as_str().unwrap().to_string();
    // The autopay screen says why.
    let upcoming = s.get("/v1/autopay/upcoming", &token).await;
    let status_of = |id: &str| {
        upcoming
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["bill_id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(q_id), "under_review");
    assert_eq!(status_of(p_id), "scheduled");

    // Past the notice and the charge date (2026-12-28): the other bill is noticed and charged;
    // the one under review gets neither.
    s.advance_business("P32D").await;
    let notices = s
        .mailbox()
        .await
        .into_iter()
        .filter(|m| m["subject"] == "Carebill autopay: an upcoming charge")
        .count();
    assert_eq!(notices, 1, "no notice for the bill under review");
    assert_eq!(autopay_payments(&s, p_id).await, 1);
    assert_eq!(autopay_payments(&s, q_id).await, 0);
    s.run_scheduler().await;
    assert_eq!(autopay_payments(&s, q_id).await, 0, "still held");

    // Closed: the next pass charges it, once.
    let token = s.demo_token().await;
    close(&s, &token, &conversation).await.expect(200);
    s.run_scheduler().await;
    s.run_scheduler().await;
    assert_eq!(autopay_payments(&s, q_id).await, 1);
    s.stop().await;
}

#[tokio::test]
async fn a_scheduled_payment_waits_while_a_question_about_its_bill_is_open() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let bill = issue_bill(&s).await;
    let id = bill["id"].as_str().unwrap();
    let scheduled = s
        .send(
            s.http
                .post(format!("{}/v1/scheduled-payments", s.base))
                .bearer_auth(&token)
                .header("Idempotency-Key", "sched")
                .json(&json!({"pay_on": "2026-12-10", "payment_method_id": card,
                    "allocations": [{"bill_id": id, "amount": "1.00"}]})),
        )
        .await;
    scheduled.expect(201);
    let sid = scheduled.body["id"].as_str().unwrap().to_string();
    let made = ask(
        &s,
        &token,
        "hold",
        json!({"topic": "unrecognized_charge", "bill_id": id, "body": "?"}),
    )
    .await;
    made.expect(201);
    let scheduled_payments = || s.count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled'");
    s.advance_business("P15D").await;
    assert_eq!(scheduled_payments().await, 0, "no charge while the question is open");
    assert_eq!(
        s.mailbox()
            .await
            .iter()
            .filter(|m| m["subject"] == "Carebill: your scheduled payment is tomorrow")
            .count(),
        0,
        "and no reminder"
    );
    // Past its date it can still be cancelled or changed while it waits.
    let token = s.demo_token().await;
    let got = s.get(&format!("/v1/scheduled-payments/{sid}"), &token).await;
    assert_eq!(got.body["status"], "scheduled");
    close(&s, &token, made.body["id"].as_str().unwrap()).await.expect(200);
    s.run_scheduler().await;
    s.run_scheduler().await;
    assert_eq!(scheduled_payments().await, 1, "made once the question is closed");
    s.stop().await;
}

/// Uploads being received at once are bounded (each holds its bytes until checked): one more is
/// answered 429 with Retry-After, and is taken once the first is done.
#[tokio::test]
async fn uploads_received_at_once_are_bounded() {
    use std::io::Write;
    let s = TestServer::start_with(|c| c.max_concurrent_uploads = 1).await;
    let token = s.demo_token().await;
    let uploads = s.server.state.uploads.clone();
    let until = |what: &'static str, want: usize| {
        let uploads = uploads.clone();
        async move {
            let started = std::time::Instant::now();
            while uploads.available_permits() != want {
                assert!(started.elapsed() < std::time::Duration::from_secs(20), "{what}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    // A slow upload: its headers and half its body, then nothing for now.
    let mut slow = std::net::TcpStream::connect(s.server.addr).unwrap();
    let head = format!(
        "POST /v1/attachments?file_name=slow.pdf HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: slow\r\nContent-Length: 100000\r\n\r\n%PDF-1.7\n"
    );
    slow.write_all(head.as_bytes()).unwrap();
    slow.write_all(&[b'x'; 50_000]).unwrap();
    until("the slow upload is being received", 0).await;
    let busy = upload(&s, &token, "second", "second.png", samples::png()).await;
    busy.expect_error(429, "rate_limited");
    assert!(busy.headers.contains_key("retry-after"));
    drop(slow);
    until("the slow upload is done", 1).await;
    upload(&s, &token, "second", "second.png", samples::png())
        .await
        .expect(201);
    s.stop().await;
}
