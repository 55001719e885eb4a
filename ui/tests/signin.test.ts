import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import SignIn from "../src/screens/SignIn.svelte";
import { app } from "../src/lib/app.svelte";
import { callsTo, respond } from "./tauri";
import { noViolations } from "./fixtures";

function startup(demo: boolean, keyring: "available" | "unavailable") {
  app.startup = { screen: "sign_in", demo, keyring: { state: keyring } } as unknown as typeof app.startup;
  app.flash = null;
}

describe("Sign in", () => {
  it("says what is missing, on the fields and in a focused summary, without calling Rust", async () => {
    startup(false, "available");
    const { container } = render(SignIn);
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const summary = await screen.findByRole("alert");
    expect(summary.textContent).toContain("There is a problem");
    expect(summary.textContent).toContain("Enter your email address or member ID.");
    expect(summary.textContent).toContain("Enter your password.");
    await waitFor(() => expect(document.activeElement).toBe(summary));
    const login = screen.getByLabelText("Email address or member ID");
    expect(login.getAttribute("aria-invalid")).toBe("true");
    expect(login.getAttribute("aria-describedby")).toContain("login-error");
    expect(callsTo("sign_in")).toEqual([]);
    await noViolations(container);
  });

  it("shows the engine's message on the field it names", async () => {
    startup(false, "available");
    respond("sign_in", () => {
      throw { kind: "unauthenticated", code: "invalid_credentials", message: "That email or member ID and password do not match.", field: "/password" };
    });
    render(SignIn);
    await fireEvent.input(screen.getByLabelText("Email address or member ID"), { target: { value: "demo@carebill.example" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "wrong" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByText(/do not match/, { selector: "#password-error" });
    expect(callsTo("sign_in")).toEqual([{ login: "demo@carebill.example", password: "wrong", remember: false }]);
  });

  it("offers the saved copy when the service cannot be reached", async () => {
    startup(false, "available");
    respond("sign_in", () => {
      throw { kind: "offline", code: "offline", message: "Carebill cannot reach the billing service." };
    });
    render(SignIn);
    await fireEvent.input(screen.getByLabelText("Email address or member ID"), { target: { value: "M200000001" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "pw" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("button", { name: "Open the copy saved on this device" })).toBeTruthy();
  });

  it("keeps 'keep me signed in' off without a keyring, and shows demo credentials only for a demo server", () => {
    startup(false, "unavailable");
    render(SignIn);
    const remember = screen.getByLabelText("Keep me signed in on this device") as HTMLInputElement;
    expect(remember.disabled).toBe(true);
    expect(screen.getByText(/this computer has no keyring/)).toBeTruthy();
    expect(screen.queryByText("Demo server")).toBeNull();
  });

  it("shows the demo credentials when connected to a demo server", () => {
    startup(true, "available");
    render(SignIn);
    expect(screen.getByText("Demo server")).toBeTruthy();
    expect((screen.getByLabelText("Keep me signed in on this device") as HTMLInputElement).disabled).toBe(false);
  });
});
