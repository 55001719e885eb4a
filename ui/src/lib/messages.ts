// What the message screens share: the topics in the order members see them, their words, a
// file's size for people, reading a chosen file for the engine, and opening an attachment.
import { hasCode } from "./api";
import type { AttachmentData, ClientError, ConversationStatus, ConversationTopic } from "./bindings";
import { t, type MessageKey } from "./i18n/index.svelte";

export const TOPICS: ConversationTopic[] = [
  "unrecognized_charge",
  "insurance_should_have_paid",
  "already_paid",
  "itemized_bill",
  "payment_help",
  "other",
];

const TOPIC_KEYS: Record<ConversationTopic, MessageKey> = {
  unrecognized_charge: "topic.unrecognized_charge",
  insurance_should_have_paid: "topic.insurance_should_have_paid",
  already_paid: "topic.already_paid",
  itemized_bill: "topic.itemized_bill",
  payment_help: "topic.payment_help",
  other: "topic.other",
};

export function topicLabel(topic: ConversationTopic): string {
  return t(TOPIC_KEYS[topic]);
}

const STATUS_KEYS: Record<ConversationStatus, MessageKey> = {
  open: "conversation_status.open",
  waiting_on_member: "conversation_status.waiting_on_member",
  answered: "conversation_status.answered",
  closed: "conversation_status.closed",
};

export function conversationStatus(status: ConversationStatus): string {
  return t(STATUS_KEYS[status]);
}

/** "12 KB", "3.4 MB": a file's size as people read it. */
export function fileSize(bytes: number): string {
  if (bytes < 1024 * 1024) return t("ask.size_kb", { size: Math.max(1, Math.round(bytes / 1024)) });
  return t("ask.size_mb", { size: (bytes / (1024 * 1024)).toFixed(1) });
}

/** A file the member chose, read for sending. */
export type ChosenFile = { name: string; size: number; data: string };

/** The files of a draft, as the engine takes them. */
export function fileDrafts(files: ChosenFile[]): { file_name: string; data_base64: string }[] {
  return files.map((f) => ({ file_name: f.name, data_base64: f.data }));
}

/** A chosen file's bytes as base64 (IPC carries text); the engine decodes and checks them. */
export function readFile(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result ?? "");
      resolve(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** A blob URL for an opened attachment (images are shown, other files saved from it). */
export function attachmentUrl(data: AttachmentData): string {
  const bytes = Uint8Array.from(atob(data.data_base64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: data.media_type }));
}

/** Whether a refusal is about the chosen files (shown at the file field). */
export function aboutFiles(err: ClientError): boolean {
  const field = (err.field ?? "").replace(/^\//, "");
  return (
    field.startsWith("files") ||
    hasCode(err, "attachment_empty") ||
    hasCode(err, "attachment_too_large") ||
    hasCode(err, "attachment_type_not_allowed") ||
    hasCode(err, "attachment_truncated") ||
    hasCode(err, "attachment_malformed") ||
    hasCode(err, "attachment_not_found") ||
    hasCode(err, "too_many_attachments") ||
    hasCode(err, "file_unreadable")
  );
}
