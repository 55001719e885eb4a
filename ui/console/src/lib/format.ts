// Plain US formats for staff screens. Money arrives as exact strings ("1234.50") and is never
// turned into a float.

export function usd(amount: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === "") return "";
  const negative = amount.startsWith("-");
  const [whole, cents = "00"] = (negative ? amount.slice(1) : amount).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}$${grouped}.${cents.padEnd(2, "0").slice(0, 2)}`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  return new Date(iso).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

export function date(isoDate: string | null | undefined): string {
  if (!isoDate) return "";
  const [y, m, d] = isoDate.slice(0, 10).split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-US", { dateStyle: "medium", timeZone: "UTC" });
}

/** How long ago, in words staff scan quickly: "3 h 5 min", "2 days". */
export function waited(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "";
  const minutes = Math.max(0, Math.floor((now.getTime() - new Date(iso).getTime()) / 60000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

export const TOPICS: Record<string, string> = {
  unrecognized_charge: "Doesn't recognize a charge",
  insurance_should_have_paid: "Insurance should have paid",
  already_paid: "Already paid",
  itemized_bill: "Needs an itemized bill",
  payment_help: "Payment plan or help paying",
  other: "Something else",
};

export const STATUSES: Record<string, string> = {
  open: "Waiting on us",
  waiting_on_member: "Waiting on the member",
  answered: "Answered",
  closed: "Closed",
};

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
