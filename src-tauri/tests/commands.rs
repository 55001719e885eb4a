//! The shell without a display: bindings, argument shapes, error JSON, capabilities.

mod support;

use carebill_app::{AppState, BINDINGS, specta_builder, typescript};
use support::app;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindowBuilder};

#[test]
fn the_committed_typescript_bindings_match_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bindings.ts");
    specta_builder::<MockRuntime>().export(typescript(), &path).unwrap();
    let generated = std::fs::read_to_string(&path).unwrap();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(BINDINGS, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(BINDINGS).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/lib/bindings.ts is out of date: run `cargo xtask bindings` and commit it"
    );
}

/// `commands.list` is the one list of commands: the capability permits exactly these,
/// `each_command!` (the invoke handler and the bindings) registers exactly these, and the bindings
/// offer exactly these.
#[test]
fn the_command_list_the_capability_the_registration_and_the_bindings_agree() {
    use std::collections::BTreeSet;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    let list: Vec<String> = read("commands.list")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let listed: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(listed.len(), list.len(), "a command is listed twice");

    let capability: serde_json::Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
    let permitted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    assert_eq!(
        permitted, listed,
        "capabilities/main.json permits other commands than commands.list"
    );

    let lib = read("src/lib.rs");
    let each = lib
        .find("macro_rules! each_command")
        .expect("each_command! in src/lib.rs");
    let start = each + lib[each..].find("+![").expect("the list in each_command!") + "+![".len();
    let registered: BTreeSet<String> = lib[start..]
        .split(']')
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.trim().rsplit("::").next().unwrap_or_default().trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        registered, listed,
        "each_command! (the invoke handler, and the bindings' commands) lists other commands than commands.list"
    );

    let bindings = std::fs::read_to_string(BINDINGS).unwrap();
    // `__TAURI_INVOKE("name"` or, for commands without a result, `__TAURI_INVOKE<void>("name"`.
    let bound: BTreeSet<String> = bindings
        .split("__TAURI_INVOKE")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.strip_prefix("<void>").unwrap_or(rest);
            Some(rest.strip_prefix("(\"")?.split('"').next()?.to_string())
        })
        .collect();
    assert_eq!(
        bound, listed,
        "ui/src/lib/bindings.ts offers other commands than commands.list"
    );
}

fn request(cmd: &str, args: serde_json::Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: if cfg!(windows) {
            "http://tauri.localhost"
        } else {
            "tauri://localhost"
        }
        .parse()
        .unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

#[test]
fn validation_commands_answer_with_the_rust_rules_and_stable_error_json() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = app(dir.path());
    let ok = get_ipc_response(
        &window,
        request(
            "validate_amount",
            serde_json::json!({"amount": "12.5", "payable": "100.00"}),
        ),
    )
    .unwrap();
    assert_eq!(
        ok.deserialize::<String>().unwrap(),
        "12.50",
        "money crosses IPC as a string"
    );
    let err = get_ipc_response(
        &window,
        request(
            "validate_amount",
            serde_json::json!({"amount": "12.345", "payable": "100.00"}),
        ),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "validation");
    assert_eq!(err["code"], "invalid_amount");
    assert_eq!(err["field"], "/amount");
    assert!(err["message"].as_str().unwrap().contains("two decimal"));
    let over = get_ipc_response(
        &window,
        request(
            "validate_amount",
            serde_json::json!({"amount": "101", "payable": "100.00"}),
        ),
    )
    .unwrap_err();
    assert_eq!(over["code"], "amount_exceeds_balance");
    let weak = get_ipc_response(
        &window,
        request(
            "validate_password",
            serde_json::json!({"password": "short", "email": null, "memberId": null}),
        ),
    )
    .unwrap_err();
    assert_eq!(
        (weak["code"].as_str(), weak["reason"].as_str()),
        (Some("weak_password"), Some("too_short"))
    );
    let brand = get_ipc_response(
        &window,
        request(
            "validate_card_number",
            serde_json::json!({"number": "3782 8224", "complete": false}),
        ),
    )
    .unwrap();
    assert_eq!(brand.deserialize::<serde_json::Value>().unwrap()["brand"], "amex");
    // A wrong argument shape is refused before the command runs.
    assert!(
        get_ipc_response(
            &window,
            request(
                "validate_amount",
                serde_json::json!({"amount": 12.5, "payable": "100.00"})
            )
        )
        .is_err()
    );
    let dob = get_ipc_response(
        &window,
        request(
            "validate_date_of_birth",
            serde_json::json!({"day": "12", "month": "4", "year": "1985"}),
        ),
    )
    .unwrap();
    assert_eq!(dob.deserialize::<String>().unwrap(), "1985-04-12");
}

#[test]
fn engine_errors_reach_the_ui_as_kind_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = app(dir.path());
    // Nobody listens on port 9: signing in is "offline", and nothing is signed in.
    let err = get_ipc_response(
        &window,
        request(
            "sign_in",
            serde_json::json!({"login": "a@b.example", "password": "x", "remember": false}),
        ),
    )
    .unwrap_err();
    assert_eq!(
        (err["kind"].as_str(), err["code"].as_str()),
        (Some("offline"), Some("offline"))
    );
    let err = get_ipc_response(&window, request("dashboard", serde_json::json!({}))).unwrap_err();
    assert_eq!(
        (err["kind"].as_str(), err["code"].as_str()),
        (Some("unauthenticated"), Some("not_signed_in"))
    );
}

#[test]
fn commands_and_window_apis_outside_the_capability_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, window) = app(dir.path());
    // The capability grants app commands and event listening only.
    let refused = get_ipc_response(
        &window,
        request(
            "plugin:window|set_title",
            serde_json::json!({"label": "main", "value": "pwned"}),
        ),
    );
    assert!(refused.is_err(), "window control from JavaScript is not granted");
    let refused = get_ipc_response(
        &window,
        request(
            "plugin:webview|create_webview_window",
            serde_json::json!({"options": {"label": "x", "url": "https://example.com"}}),
        ),
    );
    assert!(refused.is_err(), "no new (remote) webviews");
    // Updates go through the app's own commands (signature checked in Rust, kiosk policy), never
    // through the updater plugin's JavaScript API.
    for cmd in ["plugin:updater|check", "plugin:updater|download_and_install"] {
        assert!(
            get_ipc_response(&window, request(cmd, serde_json::json!({}))).is_err(),
            "{cmd} is not granted"
        );
    }
    // A window the capability does not name gets no app commands at all.
    let other = WebviewWindowBuilder::new(&app, "other", Default::default())
        .build()
        .unwrap();
    assert!(
        get_ipc_response(
            &other,
            request("validate_email", serde_json::json!({"email": "a@b.example"}))
        )
        .is_err()
    );
    assert!(
        get_ipc_response(
            &window,
            request("validate_email", serde_json::json!({"email": "a@b.example"}))
        )
        .is_ok()
    );
    let _ = app.state::<AppState>();
}

/// Review finding 21: on a kiosk, Rust refuses what the screen hides (changing the idle
/// time-out), and receipts are built from the payment the engine recorded for this guest, so a
/// screen cannot print or encode a receipt for a payment that was never made.
#[test]
fn a_kiosk_refuses_setting_changes_and_receipts_for_payments_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = support::app_with(support::kiosk_state(dir.path()));
    let err = get_ipc_response(
        &window,
        request("set_idle_minutes", serde_json::json!({"minutes": 120})),
    )
    .unwrap_err();
    assert_eq!(err["code"].as_str(), Some("kiosk_setting"));
    let forged = get_ipc_response(
        &window,
        request(
            "guest_receipt_qr",
            serde_json::json!({"confirmationNumber": "CB-FAKE-0001"}),
        ),
    )
    .unwrap_err();
    assert_ne!(forged["code"].as_str(), None);
    assert!(
        matches!(
            forged["code"].as_str(),
            Some("guest_session_ended" | "payment_not_found")
        ),
        "{forged}"
    );
    // On a member's computer the setting is theirs.
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = support::app(dir.path());
    let ok = get_ipc_response(&window, request("set_idle_minutes", serde_json::json!({"minutes": 30}))).unwrap();
    assert_eq!(ok.deserialize::<u32>().unwrap(), 30);
}

/// Issue 22: a kiosk never saves files. Rust refuses the statement, receipt and summary
/// downloads there (the screen does not show them either); on a member's computer they are made
/// from the member's copy, so without a session the answer is to sign in.
#[test]
fn a_kiosk_refuses_to_save_documents_and_a_member_needs_a_session_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = support::app_with(support::kiosk_state(dir.path()));
    for (command, args) in [
        ("save_statement", serde_json::json!({"billId": "bil_1"})),
        ("save_receipt", serde_json::json!({"paymentId": "pay_1"})),
        (
            "save_yearly_summary",
            serde_json::json!({"year": 2026, "format": "pdf"}),
        ),
    ] {
        let err = get_ipc_response(&window, request(command, args)).unwrap_err();
        assert_eq!(err["code"].as_str(), Some("kiosk_no_files"), "{command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = support::app(dir.path());
    for (command, args) in [
        ("save_statement", serde_json::json!({"billId": "bil_1"})),
        ("yearly_summary", serde_json::json!({"year": null})),
        (
            "save_yearly_summary",
            serde_json::json!({"year": 2026, "format": "csv"}),
        ),
    ] {
        let err = get_ipc_response(&window, request(command, args)).unwrap_err();
        assert_eq!(err["code"].as_str(), Some("not_signed_in"), "{command}");
    }
    // A format the app does not make is refused by the arguments' types, before the command
    // runs (no engine code, so not "sign in").
    let err = get_ipc_response(
        &window,
        request(
            "save_yearly_summary",
            serde_json::json!({"year": 2026, "format": "xlsx"}),
        ),
    )
    .unwrap_err();
    assert!(err.get("code").is_none() && err.to_string().contains("xlsx"), "{err}");
}

/// The UI compares error codes only through `hasCode` (lib/api.ts), whose argument is typed as
/// one of the two code tables, so a misspelt or retired code fails the UI's type check.
#[test]
fn the_ui_compares_error_codes_only_through_the_typed_tables() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "svelte" || e == "ts") {
                out.push(path);
            }
        }
    }
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src");
    let mut files = Vec::new();
    walk(&ui, &mut files);
    assert!(files.len() > 10, "the UI's sources are found");
    let mut raw = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if name == "api.ts" || name == "bindings.ts" || name.ends_with(".test.ts") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if ["err.code ===", "err.code !==", "error.code ===", "error.code !=="]
                .iter()
                .any(|p| line.contains(p))
            {
                raw.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(raw.is_empty(), "compare codes with hasCode():\n{}", raw.join("\n"));
}
