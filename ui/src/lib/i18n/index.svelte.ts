// The app's words in English and Spanish (plurals by CLDR's rules as `key_one` / `key_other`
// chosen by `count`, `{name}` placeholders, English as the fallback). Every
// string a member reads comes from the catalogs next to this file (en.json, es.json: flat keys);
// keys are typed from the English catalog, so a key the code names but the catalog lacks is a
// compile error, and tests/i18n.test.ts checks that both catalogs have the same keys and
// placeholders and that no key goes unused. `t()` reads the reactive `i18n.locale`, so a screen
// re-renders in place when the language changes.
//
// English is in the bundle (it is also every key's type and the fallback); Spanish is its own chunk,
// loaded before the first paint when it is the language, and before a switch to it.
//
// Which language: the choice made on this device (sign-in screen, Account, the kiosk's button),
// kept in localStorage; else, once signed in, the account's language (or a kiosk's configured
// one); else the computer's. A kiosk clears its storage at every session end, so each patient
// starts afresh.
import en from "./en.json";
import type { ClientError } from "../bindings";

export const LOCALES = ["en", "es"] as const;
export type Locale = (typeof LOCALES)[number];

type Raw = keyof typeof en;
/** A catalog key, with plural keys named by their stem ("bills_count" for bills_count_one/_other). */
export type MessageKey = Raw extends infer K ? (K extends `${infer S}_one` ? S : K extends `${infer S}_other` ? S : K) : never;
export type Params = Record<string, string | number>;

/** A catalog: sentences by key, with `{name}` placeholders. */
type Catalog = Readonly<Record<string, string>>;

/** The loaded languages' words: the app's sentences and, for Spanish, the error sentences by code
 * (English shows the engine's own). Plain objects, read directly: a bills page makes a few hundred
 * `t()` calls (docs/PERFORMANCE.md). i18next did this until issue 23; its 45 kB were parsed and
 * initialised at every start for a lookup and a placeholder fill. */
const words: Partial<Record<Locale, { sentences: Catalog; errors: Catalog }>> = { en: { sentences: en, errors: {} } };

/** Loads a language's words if they are not loaded yet (Spanish, from its own chunks). */
async function load(locale: Locale) {
  if (words[locale]) return;
  const [catalog, errors] = await Promise.all([import("./es.json"), import("./errors.es.json")]);
  words.es = { sentences: catalog.default, errors: errors.default };
}

/** Whether a catalog (or a message's values) has `key` of its own: never one of Object's members,
 * whatever a server's code or a placeholder is named. */
function has(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** `text` with each `{name}` filled from `params`; a placeholder without a value stays as written. */
function fill(text: string, params: Readonly<Record<string, string | number | undefined>>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = has(params, name) ? params[name] : undefined;
    return value === undefined ? whole : String(value);
  });
}

/** Before the first paint: the words of the language the app opens in. */
export async function loadLocale() {
  await load(i18n.locale);
  applyLocale();
}
const STORAGE_KEY = "carebill.language";

/** The language tag pages, dates and numbers use (US English, US Spanish). */
export const TAG: Record<Locale, string> = { en: "en-US", es: "es-US" };

function isLocale(v: unknown): v is Locale {
  return typeof v === "string" && (LOCALES as readonly string[]).includes(v);
}

/** The choice made on this device, if any. */
function chosen(): Locale | null {
  try {
    const v = globalThis.localStorage?.getItem(STORAGE_KEY);
    return isLocale(v) ? v : null;
  } catch {
    return null;
  }
}

/** The computer's language, when it is one the app speaks. */
function system(): Locale {
  const langs = globalThis.navigator?.languages ?? [globalThis.navigator?.language ?? "en"];
  for (const l of langs) {
    const base = l.toLowerCase().split("-")[0];
    if (isLocale(base)) return base;
  }
  return "en";
}

export const i18n = $state({ locale: chosen() ?? system() });

/** Puts the language on the page (`<html lang>`), so screen readers read it in the right voice. */
export function applyLocale() {
  if (globalThis.document) document.documentElement.lang = TAG[i18n.locale];
}

/** The member chose a language on this device: kept, and it wins over the account's. */
export async function chooseLocale(locale: Locale) {
  await load(locale);
  i18n.locale = locale;
  applyLocale();
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, locale);
  } catch {
    // Not kept: it still applies until the app closes.
  }
}

/** After sign-in: the account's language, unless this device has its own choice. */
export async function accountLocale(locale: string | null | undefined) {
  if (chosen() === null && isLocale(locale)) {
    await load(locale);
    i18n.locale = locale;
    applyLocale();
  }
}

/** Forgets this device's choice (tests; a kiosk clears all storage itself). */
export function resetLocale(locale: Locale = system()) {
  try {
    globalThis.localStorage?.removeItem(STORAGE_KEY);
  } catch {
    // Nothing kept.
  }
  i18n.locale = locale;
  applyLocale();
}

/** A count's plural category in US English or US Spanish: CLDR's rules for whole numbers and
 * decimals, written out rather than asked of `Intl.PluralRules`, whose first use loads ICU's data
 * while a start's list is built (docs/PERFORMANCE.md, issue 23; tests/i18n.test.ts checks them
 * against `Intl.PluralRules`). */
export function pluralOf(count: number, lng: Locale): "one" | "many" | "other" {
  const n = Math.abs(count);
  if (n === 1) return "one";
  // Spanish names exact millions apart ("un millón de facturas"); the catalogs fall back to `_other`.
  if (lng === "es" && Number.isInteger(n) && n !== 0 && n % 1_000_000 === 0) return "many";
  return "other";
}

/** The catalog's sentence for a key: the language's own, else the English one. */
function sentence(key: string, lng: Locale): string | undefined {
  const own = words[lng]?.sentences;
  if (own && has(own, key)) return own[key];
  return has(en, key) ? (en as Catalog)[key] : undefined;
}

/** The words for `key` in the current language (reactive: a screen re-renders when it changes).
 * A key with plural forms takes the one `count` calls for; a key no catalog has (which the types
 * rule out) reads as itself. */
export function t(key: MessageKey, params?: Params): string {
  const lng = i18n.locale;
  let text = sentence(key, lng);
  if (text === undefined && params?.count !== undefined) {
    text = sentence(`${key}_${pluralOf(Number(params.count), lng)}`, lng) ?? sentence(`${key}_other`, lng);
  }
  if (text === undefined) return key;
  return params ? fill(text, params) : text;
}

/**
 * An engine or server error in the member's language. In English it is the engine's own message
 * (which names amounts and limits); in Spanish the catalog's sentence for its code, refined by the
 * field or the reason when the code alone is too broad ("validation_failed"). An unknown code
 * falls back to `fallback`'s sentence (a general one unless the caller knows better), never to English.
 */
export function errorText(
  err: Pick<ClientError, "code" | "message"> & { field?: string | null; reason?: string | null; params?: Partial<Record<string, string>> | null },
  fallback = "internal",
): string {
  if (i18n.locale === "en") return err.message;
  // The most specific sentence first: one that names the values the engine sent ("code(max)"),
  // then by field, by reason, by code.
  const named = Object.keys(err.params ?? {}).sort();
  const candidates = [
    named.length > 0 ? `${err.code}(${named.join(",")})` : null,
    err.field ? `${err.code} ${err.field}` : null,
    err.reason ? `${err.code}.${err.reason}` : null,
    err.code,
    fallback,
    "internal",
  ];
  const errors = words[i18n.locale]?.errors ?? {};
  for (const key of candidates) if (key && has(errors, key)) return fill(errors[key], err.params ?? {});
  return err.message;
}

/** Why a payment failed or came back, in the member's language (processor codes, ACH return codes). */
export function failureText(failure: { code: string; message: string }, status: string): string {
  return errorText(failure, status === "returned" ? "ach_returned" : "declined");
}
