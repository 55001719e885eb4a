// Form error state: field messages and the summary, from the engine's errors.
import { errorOf, fieldId } from "./api";
import type { ClientError } from "./bindings";

export class FormErrors {
  fields = $state<Record<string, string>>({});
  general = $state<string[]>([]);

  get summary(): { field: string | null; message: string }[] {
    return [
      ...Object.entries(this.fields).map(([field, message]) => ({ field, message })),
      ...this.general.map((message) => ({ field: null, message })),
    ];
  }

  clear() {
    this.fields = {};
    this.general = [];
  }

  set(field: string, message: string) {
    this.fields = { ...this.fields, [field]: message };
  }

  unset(field: string) {
    const { [field]: _, ...rest } = this.fields;
    this.fields = rest;
  }

  /** Puts an engine error on its field when the field is on this form (`known`), else in the summary. */
  add(e: unknown, known: string[] = []) {
    const err: ClientError = errorOf(e);
    const id = fieldId(err.field);
    if (id && known.includes(id)) this.set(id, err.message);
    else this.general = [...this.general, err.message];
  }

  get any(): boolean {
    return this.summary.length > 0;
  }
}
