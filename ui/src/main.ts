import { mount } from "svelte";
import App from "./App.svelte";
import { loadLocale } from "./lib/i18n/index.svelte";
import "./app.css";

// The words of the app's language first, so the first paint is in it.
loadLocale().finally(() => mount(App, { target: document.getElementById("app")! }));
