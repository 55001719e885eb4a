import { describe, expect, it } from "vitest";
import { ago, count, date, dateTime, methodLabel, money, period, statusLabel, summaryLabel } from "../src/lib/format";
import { fieldId } from "../src/lib/api";
import { chooseLocale, resetLocale, TAG } from "../src/lib/i18n/index.svelte";

describe("money", () => {
  it("groups thousands without arithmetic", () => {
    expect(money("0.00")).toBe("$0.00");
    expect(money("12.34")).toBe("$12.34");
    expect(money("1234.56")).toBe("$1,234.56");
    expect(money("1234567.89")).toBe("$1,234,567.89");
    expect(money("-45.10")).toBe("-$45.10");
  });
  it("keeps digits a float would lose", () => {
    expect(money("90071992547409.93")).toBe("$90,071,992,547,409.93");
  });
  it("shows anything that is not a two-decimal amount unchanged", () => {
    expect(money("12.3")).toBe("12.3");
    expect(money("1e3")).toBe("1e3");
    expect(money(null)).toBe("");
  });
});

describe("counts", () => {
  it("group thousands the US way", () => {
    expect(count(7)).toBe("7");
    expect(count(2000)).toBe("2,000");
    expect(count(1234567)).toBe("1,234,567");
  });
});

describe("dates", () => {
  it("formats calendar dates the US way, without a time zone shift", () => {
    expect(date("2026-01-01")).toBe("Jan 1, 2026");
    expect(date("2026-12-31")).toBe("Dec 31, 2026");
    expect(date("2026-12-05")).toBe("Dec 5, 2026");
    expect(period("2026-03-03", "2026-03-03")).toBe("Mar 3, 2026");
    expect(period("2026-03-03", "2026-03-05")).toBe("Mar 3, 2026 – Mar 5, 2026");
  });
  it("writes every calendar date as Intl.DateTimeFormat does, in both languages, without it", async () => {
    for (const locale of ["en", "es"] as const) {
      await chooseLocale(locale);
      const intl = new Intl.DateTimeFormat(TAG[locale], { month: locale === "es" ? "long" : "short", day: "numeric", year: "numeric", timeZone: "UTC" });
      for (let day = Date.UTC(2024, 0, 1); day <= Date.UTC(2027, 11, 31); day += 86_400_000) {
        const iso = new Date(day).toISOString().slice(0, 10);
        expect(date(iso), iso).toBe(intl.format(new Date(day)));
      }
      // Out-of-range digits roll over as the calendar does.
      expect(date("2026-02-30")).toBe(intl.format(new Date(Date.UTC(2026, 2, 2))));
    }
    resetLocale("en");
  });
  it("gives every instant its year and a 12-hour clock", () => {
    const at = new Date(2026, 11, 5, 14, 2).toISOString();
    expect(dateTime(at)).toBe("Dec 5, 2026, 2:02 PM");
    expect(dateTime(new Date(2027, 0, 9, 9, 30).toISOString())).toBe("Jan 9, 2027, 9:30 AM");
  });
  it("says how long ago", () => {
    const now = new Date("2026-11-27T12:00:00Z");
    expect(ago("2026-11-27T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-11-27T11:59:00Z", now)).toBe("1 minute ago");
    expect(ago("2026-11-27T11:15:00Z", now)).toBe("45 minutes ago");
    expect(ago("2026-11-27T09:00:00Z", now)).toBe("3 hours ago");
    expect(ago(null, now)).toBe("never");
  });
  it("labels statuses in plain words", () => {
    expect(statusLabel("partially_paid")).toBe("Partly paid");
    expect(statusLabel("failed")).toBe("Declined, not charged");
    expect(statusLabel("pending")).toBe("Processing");
  });
});

describe("fieldId", () => {
  it("maps a JSON pointer to a form field id", () => {
    expect(fieldId("/member_id")).toBe("member-id");
    expect(fieldId("/allocations/0/amount")).toBe("allocations-0-amount");
    expect(fieldId("")).toBeNull();
    expect(fieldId(null)).toBeNull();
  });
});

describe("methodLabel", () => {
  it("says which card is an HSA or FSA card, and never a bank account", () => {
    expect(methodLabel({ type: "card", brand: "visa", last4: "4242", funding: "credit" })).toBe("Visa •••• 4242");
    expect(methodLabel({ type: "card", brand: "visa", last4: "1000", funding: "hsa_fsa" })).toBe("Visa (HSA/FSA card) •••• 1000");
    expect(summaryLabel({ type: "card", brand: "mastercard", last4: "4444", funding: "hsa_fsa" })).toBe("Mastercard (HSA/FSA card) •••• 4444");
    expect(summaryLabel({ type: "bank_account", brand: "Carebill Test Bank", last4: "6789", funding: "hsa_fsa" })).toBe("Carebill Test Bank •••• 6789");
    // A payment from before funding was recorded.
    expect(summaryLabel({ type: "card", brand: "visa", last4: "4242" })).toBe("Visa •••• 4242");
  });
});
