import { mount } from "svelte";
import App from "./App.svelte";
import { loadLocale } from "./lib/i18n/index.svelte";
import "./app.css";

// Linux's web view (WebKitGTK) lays the first screen out sooner in sans-serif than in system-ui
// (app.css).
if (navigator.platform.startsWith("Linux")) document.documentElement.classList.add("linux");
// The words of the app's language first, so the first paint is in it.
loadLocale().finally(() => mount(App, { target: document.getElementById("app")! }));
