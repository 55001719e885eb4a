// Text size: Normal, Large or Largest (200%, WCAG 1.4.4), chosen in Account or with the zoom keys
// (Ctrl or Cmd with + - 0) in a member's app, and kept on this device. Kiosks start at Normal
// for every patient (their storage is cleared at each session end).

export const TEXT_SIZES = ["normal", "large", "largest"] as const;
export type TextSize = (typeof TEXT_SIZES)[number];

const KEY = "carebill.text-size";

function stored(): TextSize {
  try {
    const v = globalThis.localStorage?.getItem(KEY);
    return (TEXT_SIZES as readonly string[]).includes(v ?? "") ? (v as TextSize) : "normal";
  } catch {
    return "normal";
  }
}

export const text = $state({ size: stored() });

/** Puts the size on the page (`<html data-text-size>`, read by app.css). */
export function applyTextSize() {
  document.documentElement.dataset.textSize = text.size;
}

export function setTextSize(size: TextSize) {
  text.size = size;
  applyTextSize();
  try {
    globalThis.localStorage?.setItem(KEY, size);
  } catch {
    // Not kept: the size still applies until the app closes.
  }
}

/** Ctrl/Cmd with + or = (larger), - (smaller), 0 (normal): the browser's zoom keys, as text size. */
export function zoomKey(event: KeyboardEvent): boolean {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return false;
  const at = TEXT_SIZES.indexOf(text.size);
  const next = ({ "+": at + 1, "=": at + 1, "-": at - 1, "_": at - 1, "0": 0 } as Record<string, number>)[event.key];
  if (next === undefined) return false;
  event.preventDefault();
  setTextSize(TEXT_SIZES[Math.max(0, Math.min(TEXT_SIZES.length - 1, next))]);
  return true;
}
