// Fifty rows, as Carebill's bills list shows, then `ready` after the frame that paints them
// (Carebill marks its paint the same way: the next animation frame, then a task).
const rows = document.getElementById("rows");
for (let i = 1; i <= 50; i++) {
  const tr = document.createElement("tr");
  const day = String(1 + (i % 28)).padStart(2, "0");
  for (const text of [`Provider ${i}`, `2026-10-${day}`, `2026-12-${day}`, `$${(i * 37.5).toFixed(2)}`]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  rows.append(tr);
}
requestAnimationFrame(() => setTimeout(() => window.__TAURI__.core.invoke("ready"), 0));
