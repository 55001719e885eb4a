// Form error state: field messages and the summary, from the engine's errors.
import { errorOf, fieldId } from "./api";
import { errorText } from "./i18n/index.svelte";
import type { ClientError } from "./bindings";

export class FormErrors {
  fields = $state<Record<string, string>>({});
  general = $state<string[]>([]);
  /** Fields whose message came from checking as the member types: shown on the field only, never
   * in the summary (which appears, and takes focus, only when a form is submitted). */
  live = $state<Record<string, true>>({});

  get summary(): { field: string | null; message: string }[] {
    return [
      ...Object.entries(this.fields)
        .filter(([field]) => !this.live[field])
        .map(([field, message]) => ({ field, message })),
      ...this.general.map((message) => ({ field: null, message })),
    ];
  }

  clear() {
    this.fields = {};
    this.general = [];
    this.live = {};
  }

  /** A message on a field; `live` when it comes from checking while typing. */
  set(field: string, message: string, live = false) {
    this.fields = { ...this.fields, [field]: message };
    const { [field]: _, ...rest } = this.live;
    this.live = live ? { ...rest, [field]: true } : rest;
  }

  unset(field: string) {
    const { [field]: _, ...rest } = this.fields;
    this.fields = rest;
    const { [field]: __, ...live } = this.live;
    this.live = live;
  }

  /** Puts an engine error on its field when the field is on this form (`known`), else in the summary. */
  add(e: unknown, known: string[] = []) {
    const err: ClientError = errorOf(e);
    const id = fieldId(err.field);
    if (id && known.includes(id)) this.set(id, errorText(err));
    else this.general = [...this.general, errorText(err)];
  }

  get any(): boolean {
    return this.summary.length > 0;
  }
}
