import { describe, expect, it } from "vitest";
import { blockedOnKiosk, lockDownKiosk } from "../src/lib/kiosk";

const key = (key: string, mods: Partial<KeyboardEventInit> = {}) =>
  new KeyboardEvent("keydown", { key, cancelable: true, bubbles: true, ...mods });

describe("kiosk lock-down", () => {
  it("blocks reload, print, close, navigation and the inspector, and lets typing through", () => {
    for (const e of [key("F5"), key("r", { ctrlKey: true }), key("p", { metaKey: true }), key("i", { ctrlKey: true, shiftKey: true }), key("ArrowLeft", { altKey: true }), key("F4", { altKey: true })]) {
      expect(blockedOnKiosk(e), e.key).toBe(true);
    }
    for (const e of [key("a"), key("Enter"), key("Tab"), key("c", { ctrlKey: true }), key("v", { ctrlKey: true }), key("Backspace")]) {
      expect(blockedOnKiosk(e), e.key).toBe(false);
    }
  });

  it("acts only on a kiosk, and stops when asked", () => {
    let kiosk = true;
    const stop = lockDownKiosk(document, () => kiosk);
    const reload = key("F5");
    document.body.dispatchEvent(reload);
    expect(reload.defaultPrevented).toBe(true);
    const menu = new MouseEvent("contextmenu", { cancelable: true, bubbles: true });
    document.body.dispatchEvent(menu);
    expect(menu.defaultPrevented).toBe(true);
    kiosk = false;
    const member = key("F5");
    document.body.dispatchEvent(member);
    expect(member.defaultPrevented).toBe(false);
    kiosk = true;
    stop();
    const after = key("F5");
    document.body.dispatchEvent(after);
    expect(after.defaultPrevented).toBe(false);
  });
});
