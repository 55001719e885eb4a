// Display formatting only: money stays a string from Rust to the screen, never a float.

/** "1234.56" -> "$1,234.56" (grouping by string, no arithmetic). */
export function money(amount: string | null | undefined): string {
  if (amount == null || !/^-?\d+\.\d{2}$/.test(amount)) return amount ?? "";
  const negative = amount.startsWith("-");
  const [whole, cents] = amount.replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}$${grouped}.${cents}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-11-27" -> "27 Nov 2026" (calendar dates carry no time zone). */
export function date(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) return iso;
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
}

/** A service period: "3 Mar 2026" or "3–5 Mar 2026". */
export function period(from: string, to: string): string {
  return from === to ? date(from) : `${date(from)} – ${date(to)}`;
}

/** An instant in this computer's time: "27 Nov, 14:02". */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const hh = String(d.getHours()).padStart(2, "0");
  const mm = String(d.getMinutes()).padStart(2, "0");
  return `${d.getDate()} ${MONTHS[d.getMonth()]}, ${hh}:${mm}`;
}

/** "just now", "2 minutes ago", "3 hours ago", or a date. */
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
  return ({ open: "Open", partially_paid: "Partly paid", paid: "Paid", succeeded: "Paid", pending: "Pending", failed: "Declined", returned: "Returned" } as Record<string, string>)[status] ?? status;
}

export function brandName(brand: string): string {
  return ({ visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover" } as Record<string, string>)[brand] ?? brand;
}
