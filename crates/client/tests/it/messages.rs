//! Conversations with the billing office from the engine: a message written while the answers
//! do not come back waits in the outbox and is sent exactly once (its file too); bad drafts are
//! refused before anything is written; replies are counted, announced and marked seen; an
//! attachment opened once stays readable offline.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use carebill_api::types::ConversationTopic;
use carebill_client::types::{Event, FileDraft, MessageSent, QuestionDraft, ReplyDraft};
use carebill_server::conversations::{StaffFile, StaffStatus};
use carebill_testkit::proxy::FaultProxy;
use carebill_testkit::samples;

use crate::harness::*;

fn file(name: &str, bytes: &[u8]) -> FileDraft {
    FileDraft {
        file_name: name.into(),
        data_base64: STANDARD.encode(bytes),
    }
}

fn question(body: &str, files: Vec<FileDraft>) -> QuestionDraft {
    QuestionDraft {
        topic: ConversationTopic::UnrecognizedCharge,
        bill_id: None,
        line: None,
        body: body.into(),
        files,
    }
}

#[tokio::test]
async fn a_message_written_without_answers_waits_and_is_sent_exactly_once() {
    let mut w = World::start().await;
    let proxy = FaultProxy::start(w.server().addr, 20).await;
    let mut config = w.config(&proxy.url());
    config.retries = 0;
    config.request_timeout = Duration::from_millis(700);
    let e = w.engine_with(config);
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let bill = open_bills(&e).await.bills[0].bill.id.clone();

    // Refused at once, and nothing waits: an empty message, a program named .pdf, six files,
    // a file that is not base64, a line without its bill.
    let refusals = [
        (question("  ", vec![]), "message_empty"),
        (
            question("x", vec![file("scan.pdf", &samples::program())]),
            "attachment_type_not_allowed",
        ),
        (
            question(
                "x",
                (0..6).map(|i| file(&format!("{i}.png"), &samples::png())).collect(),
            ),
            "too_many_attachments",
        ),
        (
            question(
                "x",
                vec![FileDraft {
                    file_name: "a.pdf".into(),
                    data_base64: "not base64!".into(),
                }],
            ),
            "file_unreadable",
        ),
        (
            QuestionDraft {
                line: Some(1),
                ..question("x", vec![])
            },
            "validation_failed",
        ),
    ];
    for (draft, code) in refusals {
        assert_eq!(e.ask(draft).await.unwrap_err().code, code);
    }
    assert!(e.conversations().await.unwrap().queued.is_empty());

    // Every request reaches the server; no answer comes back.
    proxy.drop_every_answer();
    let pdf = samples::pdf("My itemized statement");
    let with_file = e
        .ask(QuestionDraft {
            bill_id: Some(bill.clone()),
            line: Some(1),
            ..question("What is this charge?", vec![file("statement.pdf", &pdf)])
        })
        .await
        .unwrap();
    assert!(matches!(with_file, MessageSent::Queued { .. }), "{with_file:?}");
    let plain = e.ask(question("And this one?", vec![])).await.unwrap();
    assert!(matches!(plain, MessageSent::Queued { .. }));
    let waiting = e.conversations().await.unwrap();
    assert_eq!(waiting.queued.len(), 2);
    assert_eq!(waiting.queued[0].file_names, ["statement.pdf"]);
    // Signing out says a message waits (it would be sent at the next sign-in here).
    assert_eq!(e.sign_out(false).await.unwrap_err().code, "unsent_messages");
    // The server has the file and the second question already; only the answers were lost.
    assert_eq!(w.server_count("SELECT COUNT(*) FROM attachments".into()).await, 1);

    // Back online: each is sent once; a second pass sends nothing.
    proxy.set_faults(false);
    e.resolve_unresolved().await.unwrap();
    e.resolve_unresolved().await.unwrap();
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM conversations WHERE member_id = 'M200000001'".into())
            .await,
        2
    );
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM conversation_messages WHERE member_id = 'M200000001'".into())
            .await,
        2
    );
    assert_eq!(w.server_count("SELECT COUNT(*) FROM attachments".into()).await, 1);
    let sent = e.conversations().await.unwrap();
    assert!(sent.queued.is_empty());
    assert_eq!(sent.conversations.len(), 2);
    let asked = sent
        .conversations
        .iter()
        .find(|c| c.bill_id.as_deref() == Some(bill.as_str()))
        .unwrap()
        .clone();
    assert_eq!(asked.line, Some(1));
    assert_eq!(asked.unread, 0, "the member's own messages are not news");

    // The billing office replies with a file: announced after the sync, counted, then seen.
    let mut events = e.events();
    let files = vec![StaffFile {
        file_name: "receipt.png".into(),
        bytes: samples::png(),
    }];
    office_replies(
        &w,
        &asked.reference,
        "That is the lab work from your visit.",
        StaffStatus::Answered,
        files,
    )
    .await;
    e.sync().await.unwrap();
    let mut announced = None;
    while let Ok(ev) = events.try_recv() {
        if let Event::NewReplies { unread } = ev {
            announced = Some(unread);
        }
    }
    assert_eq!(announced, Some(1));
    assert_eq!(e.unread_replies().await.unwrap(), 1);
    let view = e.conversation(&asked.id).await.unwrap();
    assert_eq!(view.new_replies, 1);
    let reply = view.conversation.messages.last().unwrap().clone();
    assert_eq!(reply.staff_name.as_deref(), Some("Dana, billing office"));
    assert_eq!(e.unread_replies().await.unwrap(), 0, "opened: seen");

    // The member answers in the thread; the office's file opens, and stays readable offline.
    let answered = e
        .reply(ReplyDraft {
            conversation_id: asked.id.clone(),
            body: "Thank you".into(),
            files: vec![],
        })
        .await
        .unwrap();
    let MessageSent::Sent { conversation } = answered else {
        panic!("sent online")
    };
    assert_eq!(conversation.messages.len(), 3);
    let png = reply.attachments[0].id.clone();
    let opened = e.attachment(&png).await.unwrap();
    assert_eq!(opened.media_type, "image/png");
    assert_eq!(STANDARD.decode(&opened.data_base64).unwrap(), samples::png());
    w.stop_server().await;
    let again = e.attachment(&png).await.unwrap();
    assert_eq!(again.data_base64, opened.data_base64, "from the encrypted copy");
    let offline = e.conversation(&asked.id).await.unwrap();
    assert_eq!(offline.conversation.messages.len(), 3, "threads read offline");
}

/// Written in a copy opened offline (nothing reaches the server), a reply waits in the outbox;
/// when the member is back online it is sent, and if the billing office closed the conversation
/// meanwhile it is refused: shown as not sent, with why, never lost quietly.
#[tokio::test]
async fn a_reply_written_offline_is_sent_when_back_online_or_shown_as_not_sent_with_why() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let MessageSent::Sent { conversation } = e.ask(question("A question", vec![])).await.unwrap() else {
        panic!("sent online")
    };
    e.sign_out(false).await.unwrap();
    drop(e);
    let messages = || {
        w.server_count(format!(
            "SELECT COUNT(*) FROM conversation_messages WHERE conversation_id = '{}'",
            conversation.id
        ))
    };

    // Offline: both replies wait on the device; nothing reaches the server.
    let offline = w.engine_with(w.config("http://127.0.0.1:9"));
    offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    for body in ["Here is more", "And another thing"] {
        let waiting = offline
            .reply(ReplyDraft {
                conversation_id: conversation.id.clone(),
                body: body.into(),
                files: vec![file("receipt.png", &samples::png())],
            })
            .await
            .unwrap();
        assert!(matches!(waiting, MessageSent::Queued { .. }));
    }
    let view = offline.conversation(&conversation.id).await.unwrap();
    assert_eq!(view.queued.len(), 2, "shown in the thread as waiting");
    assert!(view.queued.iter().all(|q| q.refused.is_none()));
    assert_eq!(messages().await, 1);
    offline.sign_out(false).await.unwrap_err(); // unsent messages: the member is told
    drop(offline);

    // Back online: the first is sent, once; then the office closes, and the second is refused.
    let online = w.engine();
    online.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    online.resolve_unresolved().await.unwrap();
    assert_eq!(messages().await, 3, "both sent once, each with its file");
    assert_eq!(w.server_count("SELECT COUNT(*) FROM attachments".into()).await, 2);
    online.resolve_unresolved().await.unwrap();
    assert_eq!(messages().await, 3, "never twice");

    office_replies(
        &w,
        &conversation.reference,
        "All done here.",
        StaffStatus::Closed,
        vec![],
    )
    .await;
    online.sign_out(false).await.unwrap();
    drop(online);
    let offline = w.engine_with(w.config("http://127.0.0.1:9"));
    offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    offline
        .reply(ReplyDraft {
            conversation_id: conversation.id.clone(),
            body: "Wait, one more".into(),
            files: vec![],
        })
        .await
        .unwrap();
    offline.sign_out(true).await.unwrap();
    drop(offline);
    let online = w.engine();
    online.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    online.resolve_unresolved().await.unwrap();
    assert_eq!(messages().await, 4, "the office's last reply; the member's was refused");
    let list = online.conversations().await.unwrap();
    assert!(list.queued.is_empty());
    assert_eq!(list.not_sent.len(), 1, "{:?}", list.not_sent);
    assert_eq!(list.not_sent[0].body, "Wait, one more");
    assert_eq!(list.not_sent[0].refused.as_ref().unwrap().code, "conversation_closed");
}
