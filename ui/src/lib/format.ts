// Display formatting only: money stays a string from Rust to the screen, never a float.

/** "1234.56" -> "$1,234.56" (grouping by string, no arithmetic). */
export function money(amount: string | null | undefined): string {
  if (amount == null || !/^-?\d+\.\d{2}$/.test(amount)) return amount ?? "";
  const negative = amount.startsWith("-");
  const [whole, cents] = amount.replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}$${grouped}.${cents}`;
}

/** The locale dates and times are written in. US English for a US plan ("Dec 5, 2026", "2:02 PM"). */
export const LOCALE = "en-US";

const calendar = new Intl.DateTimeFormat(LOCALE, { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
const clock = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", minute: "2-digit" });
const day = new Intl.DateTimeFormat(LOCALE, { month: "short", day: "numeric", year: "numeric" });

/** "2026-12-05" -> "Dec 5, 2026" (a calendar date carries no time zone: it is formatted as UTC). */
export function date(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (m) return calendar.format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))));
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : day.format(d);
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
  return `${day.format(d)}, ${clock.format(d)}`;
}

/** "just now", "2 minutes ago", "3 hours ago", or a date and time. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? "" : "s"} ago`;
  return dateTime(iso);
}

export function statusLabel(status: string): string {
  return ({ open: "Not paid yet", partially_paid: "Partly paid", paid: "Paid", succeeded: "Paid", pending: "Processing", failed: "Declined, not charged", returned: "Returned by the bank", needs_review: "Being checked by the billing office" } as Record<string, string>)[status] ?? status;
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

/** "Visa •••• 4242" or "Carebill Test Bank •••• 6789". */
export function methodLabel(m: { brand?: string | null; bank_name?: string | null; last4: string; type?: string }): string {
  const name = m.type === "bank_account" ? (m.bank_name ?? m.brand ?? "Bank account") : brandName(m.brand ?? "Card");
  return `${name} •••• ${m.last4}`;
}

/** The label of a payment's method summary (for a bank account, `brand` is the bank's name). */
export function summaryLabel(m: { type: string; brand: string; last4: string }): string {
  return methodLabel({ ...m, bank_name: m.type === "bank_account" ? m.brand : null });
}

/** What a payment paid, by provider: "Bayside Medical Group", "A and B", "A and 2 more". */
export function paidTo(labels: { bill_id: string; provider: string }[], allocations: { bill_id: string }[]): string {
  const names = [...new Set(allocations.map((a) => labels.find((b) => b.bill_id === a.bill_id)?.provider).filter((n): n is string => !!n))];
  if (names.length === 0) return allocations.length === 1 ? "1 bill" : `${allocations.length} bills`;
  return names.length <= 2 ? names.join(" and ") : `${names[0]} and ${names.length - 1} more`;
}
