// Keyboard-first reviewing. Queue: j/k move, x select, Enter/o open, A approve the selection.
// Document: 1–5 pick a suggestion and save, 0 none of the catalogue, Enter approve, j/k next/previous,
// / search the catalogue, Esc leave a field. No inline script (the CSP forbids it): everything is here.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  document.addEventListener("htmx:configRequest", (e) => { if (csrf) e.detail.headers["X-CSRF-Token"] = csrf; });

  const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)) &&
    !(el.tagName === "INPUT" && ["radio", "checkbox"].includes(el.type));
  const go = (id) => { const a = document.getElementById(id); if (a) window.location.href = a.href; };

  // ---- queue
  const rows = Array.from(document.querySelectorAll("tr.queue-row"));
  let cursor = rows.length ? 0 : -1;
  const show = () => rows.forEach((r, i) => r.classList.toggle("cursor", i === cursor));
  if (rows.length) show();
  const selectAll = document.getElementById("select-all");
  if (selectAll) selectAll.addEventListener("change", () =>
    document.querySelectorAll("input.pick").forEach((c) => { c.checked = selectAll.checked; }));

  // ---- document
  const form = document.getElementById("label-form");
  const submit = () => { if (form && !form.querySelector("fieldset").disabled) form.requestSubmit(); };
  const choose = (radio) => { if (radio) { radio.checked = true; submit(); } };
  const tagsEdited = document.getElementById("tags-edited");
  const tags = document.getElementById("tags");
  if (tags && tagsEdited) tags.addEventListener("input", () => { tagsEdited.value = "1"; });

  const results = document.getElementById("search-results");
  if (results) results.addEventListener("click", (e) => {
    const b = e.target.closest("button.pick-item");
    if (!b) return;
    const radio = document.getElementById("cand-custom");
    radio.value = b.dataset.code;
    document.getElementById("custom-label").textContent = b.dataset.code + " " + b.dataset.name;
    document.getElementById("custom-choice").hidden = false;
    radio.checked = true;
    radio.focus();
  });

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") { document.activeElement?.blur(); return; }
    if (typing(document.activeElement)) return;
    if (form) {
      if (/^[1-5]$/.test(e.key)) { e.preventDefault(); choose(document.getElementById("cand-" + e.key)); return; }
      if (e.key === "0") { e.preventDefault(); choose(document.getElementById("cand-none")); return; }
      if (e.key === "Enter") {
        if (["BUTTON", "A", "SUMMARY"].includes(document.activeElement?.tagName)) return;  // their own action
        e.preventDefault(); submit(); return;
      }
      if (e.key === "j") { go("next-link"); return; }
      if (e.key === "k") { go("prev-link"); return; }
      if (e.key === "/") { e.preventDefault(); document.getElementById("catalogue-search")?.focus(); return; }
      return;
    }
    if (!rows.length) return;
    if (e.key === "j") { cursor = Math.min(rows.length - 1, cursor + 1); show(); rows[cursor].scrollIntoView({ block: "nearest" }); }
    else if (e.key === "k") { cursor = Math.max(0, cursor - 1); show(); rows[cursor].scrollIntoView({ block: "nearest" }); }
    else if (e.key === "x") { const c = rows[cursor].querySelector("input.pick"); if (c) c.checked = !c.checked; }
    else if (e.key === "Enter" || e.key === "o") { e.preventDefault(); window.location.href = rows[cursor].dataset.href; }
    else if (e.key === "A") { const f = document.getElementById("bulk-form"); if (f && f.querySelector("input.pick:checked")) f.requestSubmit(); }
  });
})();
