// Display formatting only: money stays a string from Rust to the screen, never a float.
import { i18n, t, TAG, type Locale, type MessageKey } from "./i18n/index.svelte";

/** "1234.56" -> "$1,234.56" (grouping by string, no arithmetic). */
export function money(amount: string | null | undefined): string {
  if (amount == null || !/^-?\d+\.\d{2}$/.test(amount)) return amount ?? "";
  const negative = amount.startsWith("-");
  const [whole, cents] = amount.replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}$${grouped}.${cents}`;
}

// Dates, times and labels follow the member's language: US English ("Dec 5, 2026", "2:02 PM") or
// US Spanish, with the month spelled out ("5 de diciembre de 2026", "2:02 p.m."). Money is written
// the US way in both.
type Formats = { day: Intl.DateTimeFormat; clock: Intl.DateTimeFormat };
const FORMATS: Partial<Record<Locale, Formats>> = {};

/** The language's date and time formats, made at their first use. The app makes them once the
 * first screen has painted, so neither the start nor the first screen with a time (a receipt,
 * the history) waits for ICU's data. */
export function formats(): Formats {
  const locale = i18n.locale;
  return (FORMATS[locale] ??= {
    day: new Intl.DateTimeFormat(TAG[locale], { month: locale === "es" ? "long" : "short", day: "numeric", year: "numeric" }),
    clock: new Intl.DateTimeFormat(TAG[locale], { hour: "numeric", minute: "2-digit" }),
  });
}

/** The months as a calendar date names them: US English short, US Spanish long (tests/format.test.ts
 * checks them against `Intl.DateTimeFormat`'s). */
const MONTHS: Record<Locale, readonly string[]> = {
  en: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
  es: ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
};

/** "2026-12-05" -> "Dec 5, 2026" / "5 de diciembre de 2026". A calendar date has no time zone, so it
 * is written from its digits: without `Intl`, whose first use loads ICU's data while a start's
 * list is built (docs/PERFORMANCE.md, issue 23). */
export function date(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (m) {
    const c = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    const [year, month, day] = [c.getUTCFullYear(), MONTHS[i18n.locale][c.getUTCMonth()], c.getUTCDate()];
    return i18n.locale === "es" ? `${day} de ${month} de ${year}` : `${month} ${day}, ${year}`;
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : formats().day.format(d);
}

/** A service period: "Mar 3, 2026" or "Mar 3, 2026 – Mar 5, 2026". */
export function period(from: string, to: string): string {
  return from === to ? date(from) : `${date(from)} – ${date(to)}`;
}

/** An instant in this computer's time, always with its year: "Dec 5, 2026, 2:02 PM". */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const f = formats();
  return t("format.date_time", { date: f.day.format(d), time: f.clock.format(d) });
}

/** "just now", "2 minutes ago", "3 hours ago", or a date and time. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return t("format.never");
  const seconds = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (seconds < 45) return t("format.just_now");
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return t("format.minutes_ago", { count: minutes });
  const hours = Math.round(minutes / 60);
  if (hours < 24) return t("format.hours_ago", { count: hours });
  return dateTime(iso);
}

const STATUS: Record<string, MessageKey> = {
  open: "status.open",
  partially_paid: "status.partially_paid",
  paid: "status.paid",
  succeeded: "status.succeeded",
  pending: "status.pending",
  failed: "status.failed",
  returned: "status.returned",
  needs_review: "status.needs_review",
};

export function statusLabel(status: string): string {
  const key = STATUS[status];
  return key ? t(key) : status;
}

export function brandName(brand: string): string {
  return ({ visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover" } as Record<string, string>)[brand] ?? brand;
}

/** Exact sum of "12.34"-style amounts (integer cents as BigInt; never floats). */
export function sumMoney(amounts: string[]): string {
  let cents = 0n;
  for (const a of amounts) {
    const m = /^(-?)(\d+)\.(\d{2})$/.exec(a.trim());
    if (!m) continue;
    const v = BigInt(m[2]) * 100n + BigInt(m[3]);
    cents += m[1] ? -v : v;
  }
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

/** Is this "12.34"-style amount more than zero? */
export function positive(amount: string | null | undefined): boolean {
  return !!amount && /^\d+\.\d{2}$/.test(amount) && /[1-9]/.test(amount);
}

/** "Visa •••• 4242", "Visa (HSA/FSA card) •••• 1000" or "Carebill Test Bank •••• 6789". */
export function methodLabel(m: { brand?: string | null; bank_name?: string | null; last4: string; type?: string; funding?: string | null }): string {
  const name = m.type === "bank_account" ? (m.bank_name ?? m.brand ?? t("method.bank_account")) : m.brand ? brandName(m.brand) : t("method.card");
  const hsa = m.type !== "bank_account" && m.funding === "hsa_fsa" ? ` (${t("method.hsa_fsa")})` : "";
  return `${name}${hsa} •••• ${m.last4}`;
}

/** The label of a payment's method summary (for a bank account, `brand` is the bank's name). */
export function summaryLabel(m: { type: string; brand: string; last4: string; funding?: string | null }): string {
  return methodLabel({ ...m, bank_name: m.type === "bank_account" ? m.brand : null });
}

/** What a payment paid, by provider: "Bayside Medical Group", "A and B", "A and 2 more". */
export function paidTo(labels: { bill_id: string; provider: string }[], allocations: { bill_id: string }[]): string {
  const names = [...new Set(allocations.map((a) => labels.find((b) => b.bill_id === a.bill_id)?.provider).filter((n): n is string => !!n))];
  if (names.length === 0) return t("format.bills", { count: allocations.length });
  if (names.length === 1) return names[0];
  return names.length === 2 ? t("format.two_names", { first: names[0], second: names[1] }) : t("format.name_and_more", { name: names[0], count: names.length - 1 });
}

/** Whether `amount` is at least `floor` (both "12.34"), compared in cents. */
export function atLeast(amount: string | null | undefined, floor: string | null | undefined): boolean {
  const cents = (m: string | null | undefined) => {
    const [whole, frac = "0"] = (m ?? "0").split(".");
    return Number(whole) * 100 + Number(frac.padEnd(2, "0").slice(0, 2)) * (whole.startsWith("-") ? -1 : 1);
  };
  return cents(amount) >= cents(floor);
}

/** The words for a claim's adjudication categories (CARIN codes), in the app's glossary. */
const CLAIM_CATEGORY: Record<string, MessageKey> = {
  submitted: "glossary.amount_billed",
  eligible: "claim_category.allowed",
  benefit: "glossary.insurance_paid",
  deductible: "claim_category.deductible",
  copay: "claim_category.copay",
  coinsurance: "claim_category.coinsurance",
  noncovered: "claim_category.noncovered",
  memberliability: "claim_category.member_owes",
  paidbypatient: "claim_category.paid_by_you",
  paidtoprovider: "claim_category.paid_to_provider",
  priorpayerpaid: "claim_category.other_insurance",
  discount: "glossary.discounts",
};

export function claimCategory(code: string): string {
  const key = CLAIM_CATEGORY[code];
  return key ? t(key) : code;
}

const CLAIM_KIND: Record<string, MessageKey> = {
  inpatient: "claim_kind.inpatient",
  outpatient: "claim_kind.outpatient",
  professional: "claim_kind.professional",
  pharmacy: "claim_kind.pharmacy",
  oral: "claim_kind.oral",
};

export function claimKind(kind: string): string {
  const key = CLAIM_KIND[kind];
  return key ? t(key) : kind;
}

/** "Deductible $400.00 · Coinsurance $232.56": why the member owes what a claim says. */
export function whyText(costs: { category: string; amount: string }[]): string {
  return costs.map((c) => `${claimCategory(c.category)} ${money(c.amount)}`).join(" · ");
}

/** 2000 -> "2,000": a count written the US way (in both languages, as money is). */
export function count(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A month (1 to 12) by name in the member's language: "January" / "enero"; short: "Jan" / "ene". */
export function monthName(month: number, short = false): string {
  const f = new Intl.DateTimeFormat(TAG[i18n.locale], { month: short ? "short" : "long", timeZone: "UTC" });
  return f.format(new Date(Date.UTC(2026, month - 1, 15))).replace(".", "");
}
