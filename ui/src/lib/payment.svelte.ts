// One payment's way from the form to its outcome, shared by member pay (Pay.svelte) and kiosk
// guest pay (GuestPay.svelte): the step shown, the review, the ACH acceptance, the busy flag, a
// non-reactive guard against a second click in the same frame, and the three outcomes (paid,
// declined, still being confirmed). The engine makes a submission exactly-once; this keeps the
// screen honest about it.
import { call } from "./api";
import { errorText, t } from "./i18n/index.svelte";
import type { Answer } from "./api";
import { focusHeading } from "./app.svelte";
import type { FormErrors } from "./form.svelte";
import type { Payment, PaymentReview, ScheduledPayment, SubmitOutcome } from "./bindings";

export type Step = "form" | "review" | "done" | "pending" | "scheduled";

export type Pending = Extract<SubmitOutcome, { outcome: "pending_confirmation" }>;

export class PaymentSubmission {
  step = $state<Step>("form");
  review = $state<PaymentReview | null>(null);
  acceptAch = $state(false);
  busy = $state(false);
  /** Why the last payment was declined (shown on the form). */
  declined = $state("");
  paid = $state<Payment | null>(null);
  /** A payment scheduled for a later date instead of made now. */
  scheduled = $state<ScheduledPayment | null>(null);
  #submitting = false; // not reactive: a second click in the same frame still sees it
  readonly #errors: FormErrors;

  constructor(errors: FormErrors) {
    this.#errors = errors;
  }

  /** Shows a step and moves focus to its heading. */
  async show(next: Step) {
    this.step = next;
    await focusHeading();
  }

  /** A new review to check: the ACH box starts unticked. */
  async reviewed(review: PaymentReview) {
    this.review = review;
    this.acceptAch = false;
    this.busy = false;
    await this.show("review");
  }

  /** Back to the form after a refusal, with its reason. */
  async refused(reason: string) {
    this.declined = reason;
    this.review = null;
    await this.show("form");
  }

  /** Pays the review once with `send` (the member's or the guest's submit command). */
  async submit(
    send: (reviewId: string, acceptAch: boolean) => Promise<Answer<SubmitOutcome>>,
    after: { paid?: (payment: Payment) => Promise<void>; pending?: (outcome: Pending) => void } = {},
  ) {
    if (this.#submitting || !this.review) return;
    this.#errors.clear();
    if (this.review.ach_authorization && !this.acceptAch) {
      this.#errors.set("ach-accept", t("pay.ach_missing"));
      return;
    }
    this.#submitting = true;
    this.busy = true;
    try {
      const outcome = await call(send(this.review.review_id, this.acceptAch));
      if (outcome.outcome === "paid") {
        this.paid = outcome.payment as Payment;
        await after.paid?.(this.paid);
        await this.show("done");
      } else if (outcome.outcome === "declined") {
        await this.refused(errorText(outcome.error));
      } else if (outcome.outcome === "scheduled") {
        this.scheduled = outcome.scheduled as ScheduledPayment;
        await this.show("scheduled");
      } else {
        after.pending?.(outcome);
        await this.show("pending");
      }
    } catch (e) {
      this.#errors.add(e);
    } finally {
      this.#submitting = false;
      this.busy = false;
    }
  }
}
