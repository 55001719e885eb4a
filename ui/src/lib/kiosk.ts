// Kiosk lock-down in the page: shortcuts that would reload, print, open, save, close, navigate or
// inspect do nothing, nor do the context menu and dropping files. (The window itself is locked by
// the shell: fullscreen, undecorated, not closable.)

const CTRL_KEYS = new Set(["r", "w", "q", "p", "n", "t", "o", "s", "l", "f", "g", "h", "j", "u", "+", "-", "=", "0"]);
const FUNCTION_KEYS = ["f1", "f3", "f5", "f6", "f7", "f11", "f12", "browserback", "browserforward", "browserrefresh"];

/** Whether a key press must do nothing on a kiosk. */
export function blockedOnKiosk(event: KeyboardEvent): boolean {
  const key = event.key.toLowerCase();
  return (
    FUNCTION_KEYS.includes(key) ||
    ((event.ctrlKey || event.metaKey) && (CTRL_KEYS.has(key) || (event.shiftKey && ["i", "c", "k"].includes(key)))) ||
    (event.altKey && ["arrowleft", "arrowright", "home", "f4"].includes(key))
  );
}

/** Listens on `target` while `isKiosk()` says this is a kiosk; returns the function that stops. */
export function lockDownKiosk(target: Document, isKiosk: () => boolean): () => void {
  const keys = (event: KeyboardEvent) => {
    if (isKiosk() && blockedOnKiosk(event)) {
      event.preventDefault();
      event.stopPropagation();
    }
  };
  const block = (event: Event) => {
    if (isKiosk()) event.preventDefault();
  };
  target.addEventListener("keydown", keys, true);
  for (const type of ["contextmenu", "dragover", "drop"]) target.addEventListener(type, block, true);
  return () => {
    target.removeEventListener("keydown", keys, true);
    for (const type of ["contextmenu", "dragover", "drop"]) target.removeEventListener(type, block, true);
  };
}
