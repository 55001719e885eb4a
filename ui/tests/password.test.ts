import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import PasswordRules from "../src/components/PasswordRules.svelte";
import { callsTo, respond } from "./tauri";

describe("Password feedback", () => {
  it("explains the rules before typing", () => {
    render(PasswordRules, { password: "", id: "pw-rules" });
    expect(screen.getByText(/at least 15 characters/)).toBeTruthy();
    expect(document.getElementById("pw-rules")?.getAttribute("aria-live")).toBe("polite");
  });

  it("shows the Rust rule's message for a weak password and a tick for a good one", async () => {
    respond("validate_password", (args) => {
      if (args.password === "password123password") {
        throw { kind: "validation", code: "password_too_common", message: "This password is too common. Choose another." };
      }
      return null;
    });
    const view = render(PasswordRules, { password: "password123password", email: "a@b.example", id: "pw-rules" });
    expect(await screen.findByText("This password is too common. Choose another.", {}, { timeout: 2000 })).toBeTruthy();
    await view.rerender({ password: "violet staple canyon river", email: "a@b.example", id: "pw-rules" });
    expect(await screen.findByText(/This password meets the rules/, {}, { timeout: 2000 })).toBeTruthy();
    expect(callsTo("validate_password").at(-1)).toEqual({ password: "violet staple canyon river", email: "a@b.example", memberId: null });
  });
});
