// Wide tables scroll inside their own region when the text is large, so the page never scrolls
// sideways. A region that scrolls can be reached and scrolled with the keyboard (focusable, named);
// one that does not is a plain wrapper with no extra tab stop.
import { t } from "./i18n/index.svelte";

/** Svelte action for `<div class="table-scroll" use:scrollable={"Bills"}>`. */
export function scrollable(node: HTMLElement, label: string) {
  let name = label;
  const update = () => {
    const scrolls = node.scrollWidth > node.clientWidth + 1;
    if (scrolls) {
      node.setAttribute("tabindex", "0");
      node.setAttribute("role", "region");
      node.setAttribute("aria-label", t("common.scrolls_sideways", { name }));
    } else {
      node.removeAttribute("tabindex");
      node.removeAttribute("role");
      node.removeAttribute("aria-label");
    }
  };
  const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(update);
  observer?.observe(node);
  const table = node.firstElementChild;
  if (table) observer?.observe(table);
  // A ResizeObserver reports each observed box once after its first layout: no synchronous
  // layout here, in the middle of building the screen.
  if (!observer) update();
  return {
    update(next: string) {
      name = next;
      update();
    },
    destroy() {
      observer?.disconnect();
    },
  };
}
