//! Conversations with the billing office: the threads from the member's copy, asking and
//! replying (through the engine's outbox), closing, and opening an attachment.

use carebill_api::types::Conversation;
use carebill_client::types::{AttachmentData, ConversationView, Conversations, MessageSent, QuestionDraft, ReplyDraft};
use tauri::State;

use crate::AppState;

use super::Result;

/// The member's conversations and the messages waiting to be sent.
#[tauri::command]
#[specta::specta]
pub async fn conversations(state: State<'_, AppState>) -> Result<Conversations> {
    state.engine.conversations().await
}

/// One conversation; opening it marks its replies seen.
#[tauri::command]
#[specta::specta]
pub async fn conversation(state: State<'_, AppState>, id: String) -> Result<ConversationView> {
    state.engine.conversation(&id).await
}

/// Replies from the billing office not yet seen on this device (the sidebar's count).
#[tauri::command]
#[specta::specta]
pub async fn unread_replies(state: State<'_, AppState>) -> Result<u32> {
    state.engine.unread_replies().await
}

/// A new question: sent now, or kept on this device and sent once when back online.
#[tauri::command]
#[specta::specta]
pub async fn ask_billing_office(state: State<'_, AppState>, draft: QuestionDraft) -> Result<MessageSent> {
    state.engine.ask(draft).await
}

#[tauri::command]
#[specta::specta]
pub async fn reply_to_conversation(state: State<'_, AppState>, draft: ReplyDraft) -> Result<MessageSent> {
    state.engine.reply(draft).await
}

#[tauri::command]
#[specta::specta]
pub async fn close_conversation(state: State<'_, AppState>, id: String) -> Result<Conversation> {
    state.engine.close_conversation(&id).await
}

/// An attachment's bytes (from the copy when opened before, else downloaded and kept).
#[tauri::command]
#[specta::specta]
pub async fn attachment(state: State<'_, AppState>, id: String) -> Result<AttachmentData> {
    state.engine.attachment(&id).await
}
