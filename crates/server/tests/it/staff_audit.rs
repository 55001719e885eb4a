//! The staff audit log: each staff action is an entry (who, which member, what, when, from
//! where); the chain verifies, and an edited, removed or inserted entry breaks it where it
//! happened; the database refuses edits; retention removes the oldest and keeps the chain
//! checkable; the CSV export is safe to open in a spreadsheet; `carebill-server audit verify`
//! says all of it from the command line.

use carebill_server::conversations::{StaffReply, StaffStatus, staff_reply};
use carebill_server::staff_audit::{self, Verdict};
use serde_json::json;

use crate::conversations::ask;
use crate::harness::*;

async fn reply_as(s: &TestServer, name: &str, reference: &str) {
    let head = s.server.state.letterhead();
    let secret = s.server.state.secret.clone();
    let (name, reference, now) = (name.to_string(), reference.to_string(), s.clock_now());
    s.server
        .state
        .db
        .transaction(move |tx| {
            let reply = StaffReply {
                reference: &reference,
                staff_name: &name,
                body: "We are looking into it.",
                status: StaffStatus::WaitingOnMember,
                files: &[],
                origin: "10.0.0.7",
            };
            staff_reply(tx, &head, &secret, &reply, 1 << 20, now)
        })
        .await
        .unwrap();
}

async fn verdict(s: &TestServer) -> Verdict {
    let secret = s.server.state.secret.clone();
    s.server
        .state
        .db
        .read(move |c| staff_audit::verify(c, &secret))
        .await
        .unwrap()
}

async fn exec(s: &TestServer, sql: &'static str) -> Result<usize, String> {
    s.server
        .state
        .db
        .transaction(move |tx| Ok(tx.execute(sql, [])?))
        .await
        .map_err(|e| e.describe())
}

/// Three replies by the office, as three entries of the chain.
async fn three_entries(s: &TestServer) -> String {
    let token = s.demo_token().await;
    let asked = ask(s, &token, "audit-q", json!({"topic": "other", "body": "Hello"})).await;
    asked.expect(201);
    let reference = asked.body["reference"].as_str().unwrap().to_string();
    for name in ["Dana", "=HYPERLINK(\"http://evil.example\")", "Lee"] {
        reply_as(s, name, &reference).await;
    }
    reference
}

#[tokio::test]
async fn staff_actions_are_chained_and_the_chain_verifies() {
    let s = TestServer::start().await;
    assert_eq!(
        verdict(&s).await,
        Verdict::Intact {
            entries: 0,
            first: None,
            last: None
        }
    );
    let reference = three_entries(&s).await;
    assert_eq!(
        verdict(&s).await,
        Verdict::Intact {
            entries: 3,
            first: Some(1),
            last: Some(3)
        }
    );
    let row: (String, Option<String>, String, String, String) = s
        .server
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT staff, member_id, action, detail, origin FROM staff_audit WHERE seq = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(
        row,
        (
            "Dana (billing office)".into(),
            Some("M200000001".into()),
            "conversation_replied".into(),
            reference.clone(),
            "10.0.0.7".into()
        )
    );

    // The database itself refuses to edit an entry.
    let refused = exec(&s, "UPDATE staff_audit SET detail = 'nothing to see' WHERE seq = 2").await;
    assert!(refused.unwrap_err().contains("append-only"));

    // The export is a spreadsheet's plain text: a formula stays text.
    let csv = s
        .server
        .state
        .db
        .read(|c| {
            let mut out = Vec::new();
            staff_audit::export_csv(c, &mut out, None, None)?;
            Ok(String::from_utf8(out).unwrap())
        })
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("seq,at,staff,member_id,action,detail,origin,reason,link"));
    assert!(
        lines[2].contains("\"'=HYPERLINK(\"\"http://evil.example\"\") (billing office)\""),
        "{}",
        lines[2]
    );
    assert!(!lines.iter().any(|l| l.contains(",=")), "{csv}");
    s.stop().await;
}

#[tokio::test]
async fn an_edited_removed_or_truncated_chain_is_caught_where_it_breaks() {
    let s = TestServer::start().await;
    three_entries(&s).await;
    // Edited by a row removed and written again with another detail (the trigger stops UPDATE).
    exec(
        &s,
        "CREATE TABLE staff_audit_copy AS SELECT * FROM staff_audit WHERE seq = 2",
    )
    .await
    .unwrap();
    exec(&s, "DELETE FROM staff_audit WHERE seq = 2").await.unwrap();
    exec(&s, "UPDATE staff_audit_copy SET detail = 'Q-OTHER222'")
        .await
        .unwrap();
    exec(&s, "INSERT INTO staff_audit SELECT * FROM staff_audit_copy")
        .await
        .unwrap();
    assert_eq!(
        verdict(&s).await,
        Verdict::Broken {
            seq: 2,
            why: "it was edited"
        }
    );
    // Removed from the middle: the next one says so.
    exec(&s, "DELETE FROM staff_audit WHERE seq = 2").await.unwrap();
    assert_eq!(
        verdict(&s).await,
        Verdict::Broken {
            seq: 3,
            why: "entries before it were removed"
        }
    );
    // Put back as it was, and the newest removed instead: the head says so.
    exec(&s, "DELETE FROM staff_audit_copy").await.unwrap();
    s.stop().await;

    let s = TestServer::start().await;
    three_entries(&s).await;
    exec(&s, "DELETE FROM staff_audit WHERE seq = 3").await.unwrap();
    assert_eq!(
        verdict(&s).await,
        Verdict::Broken {
            seq: 3,
            why: "the newest entries were removed"
        }
    );
    s.stop().await;
}

#[tokio::test]
async fn retention_removes_the_oldest_entries_and_the_chain_still_verifies() {
    let s = TestServer::start().await;
    let reference = three_entries(&s).await;
    s.advance(chrono::Duration::days(400));
    reply_as(&s, "Dana", &reference).await;
    let now = s.clock_now();
    let removed = s
        .server
        .state
        .db
        .transaction(move |tx| staff_audit::purge(tx, now, 365))
        .await
        .unwrap();
    assert_eq!(removed, 3);
    assert_eq!(
        verdict(&s).await,
        Verdict::Intact {
            entries: 1,
            first: Some(4),
            last: Some(4)
        }
    );
    // The oldest kept entry removed by hand (not by retention) is caught: it no longer anchors.
    reply_as(&s, "Lee", &reference).await;
    exec(&s, "DELETE FROM staff_audit WHERE seq = 4").await.unwrap();
    assert!(matches!(verdict(&s).await, Verdict::Broken { seq: 5, .. }));
    s.stop().await;
}

#[tokio::test]
async fn audit_verify_on_the_command_line_exits_0_when_intact_and_1_when_broken() {
    let s = TestServer::start().await;
    three_entries(&s).await;
    let config = s.server.state.config.clone();
    let run = move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_carebill-server"));
        cmd.arg("--data-dir")
            .arg(&config.data_dir)
            .args(["audit", "verify"])
            .env("CAREBILL_DB_KEY", config.database_key.to_hex())
            .env_remove("CAREBILL_DATABASE_URL");
        if let Some(url) = &config.database_url {
            cmd.env("CAREBILL_DATABASE_URL", &url.0);
        }
        cmd.output().unwrap()
    };
    let ok = off_runtime(run.clone());
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "The staff audit log is intact: 3 entries, 1 to 3."
    );
    exec(&s, "DELETE FROM staff_audit WHERE seq = 2").await.unwrap();
    let broken = off_runtime(run);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("broken at entry 3: entries before it were removed"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
    s.stop().await;
}
