// Calls into Rust. Every command answers a Result; failures carry the engine's ClientError
// ({kind, code, message, field?, ...}). Screens branch on `kind` and `code` only, and compare a
// code only through `hasCode`, whose second argument must be one of the two code tables.
import { commands, events } from "./bindings";
import type { ClientCode, ClientError, ServerCode } from "./bindings";
import { errorText } from "./i18n/index.svelte";

export { commands, events };
export type { ClientCode, ClientError, ServerCode };

/** Whether an error has this code: the server's (`ServerCode`) or the app's own (`ClientCode`). */
export function hasCode(err: ClientError, code: ServerCode | ClientCode): boolean {
  return err.code === code;
}

export class CommandError extends Error {
  readonly error: ClientError;
  constructor(error: ClientError) {
    super(error.message);
    this.error = error;
  }
}

export type Answer<T> = { status: "ok"; data: T } | { status: "error"; error: ClientError };

/** The data of an answer, or a thrown CommandError. */
export async function call<T>(answer: Promise<Answer<T>>): Promise<T> {
  const a = await answer;
  if (a.status === "ok") return a.data;
  throw new CommandError(a.error);
}

/** The ClientError inside anything thrown (unknown failures become a generic one). */
export function errorOf(e: unknown): ClientError {
  if (e instanceof CommandError) return e.error;
  return { kind: "server", code: "internal", message: "Something went wrong in Carebill. Nothing was changed. Try again." } as ClientError;
}

/** The message of anything thrown, in the member's language. */
export function messageOf(e: unknown): string {
  return errorText(errorOf(e));
}

/** The form field a JSON Pointer names: "/allocations/0/amount" -> "allocations-0-amount". */
export function fieldId(pointer: string | null | undefined): string | null {
  if (!pointer) return null;
  return pointer.replace(/^\//, "").replace(/\//g, "-").replace(/_/g, "-") || null;
}
