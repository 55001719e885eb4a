import { describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import axe from "axe-core";
import UpdateBanner from "../src/components/UpdateBanner.svelte";
import { callsTo, respond } from "./tauri";

const UPDATE = { version: "0.2.0", current_version: "0.1.0", notes: "Faster bills list." };

describe("Update banner", () => {
  it("offers the new version, installs it once however often it is pressed, and says when it was refused", async () => {
    let release: () => void = () => {};
    respond("update_install", () => new Promise((_, reject) => {
      release = () => reject({ kind: "server", code: "update_signature_invalid", message: "The update was refused because its signature does not match Carebill's signing key (x). Nothing was installed or changed." });
    }));
    let dismissed = 0;
    const { container } = render(UpdateBanner, { props: { update: UPDATE, ondismiss: () => (dismissed += 1) } });
    expect(screen.getByRole("heading", { name: "Carebill 0.2.0 is available" })).toBeTruthy();
    expect(screen.getByRole("status").textContent).toMatch(/You have 0\.1\.0\.\s+Faster bills list\./);
    const install = screen.getByRole("button", { name: "Install and restart" });
    await fireEvent.click(install);
    await fireEvent.click(install);
    expect(callsTo("update_install").length).toBe(1);
    expect(screen.getByRole("status").textContent).toContain("Downloading and checking the update");
    release();
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Nothing was installed or changed");
    await fireEvent.click(screen.getByRole("button", { name: "Not now" }));
    expect(dismissed).toBe(1);
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });
});
