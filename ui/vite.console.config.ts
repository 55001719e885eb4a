import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The billing office console: a web app the billing server embeds (crates/server/build.rs) and
// serves on its own listener. Built into console/dist by xtask, with the desktop UI.
export default defineConfig({
  root: "console",
  base: "/",
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    // No inline scripts or styles: the console's CSP allows only 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
