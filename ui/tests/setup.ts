import { afterEach, vi } from "vitest";
import { cleanup } from "@testing-library/svelte";
import * as tauri from "./tauri";

vi.mock("@tauri-apps/api/core", () => ({ invoke: tauri.invoke }));
vi.mock("@tauri-apps/api/event", () => ({ listen: async () => () => {} }));

afterEach(() => {
  cleanup();
  tauri.reset();
  vi.useRealTimers();
});
