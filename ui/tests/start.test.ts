// Issue 23: what the page shows while start-up has not answered, and when it fails.
import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import App from "../src/App.svelte";
import { app } from "../src/lib/app.svelte";
import { respond } from "./tauri";

function fresh() {
  vi.spyOn(window, "scrollTo").mockImplementation(() => {});
  app.route = { screen: "loading" };
  app.startup = null;
  app.session = null;
  respond("set_language", () => null);
}

describe("The start", () => {
  it("says it is opening, and the text that readies the first screen's fonts is hidden from everyone", async () => {
    fresh();
    respond("startup", () => new Promise(() => {}));
    const { container } = render(App);
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Opening…");
    const warmup = container.querySelector(".font-warmup");
    expect(warmup?.getAttribute("aria-hidden")).toBe("true");
    expect(warmup?.querySelector("a, button, input, [tabindex]")).toBeNull();
  });

  it("says why when start-up fails, without the fonts' text", async () => {
    fresh();
    respond("startup", () => {
      throw { kind: "internal", code: "internal", message: "The saved copy could not be opened." };
    });
    const { container } = render(App);
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.getByRole("alert").textContent).toContain("The saved copy could not be opened.");
    expect(container.querySelector(".font-warmup")).toBeNull();
  });
});
