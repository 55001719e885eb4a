import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The output is the Tauri shell's frontendDist (src-tauri/tauri.conf.json).
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "safari15",
    // No inline scripts or styles: the CSP allows only 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  // Tests read the Rust mail templates and kiosk receipt too (the glossary check), from outside ui/.
  server: process.env.VITEST ? { fs: { allow: [".."] } } : undefined,
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
    setupFiles: ["tests/setup.ts"],
  },
});
