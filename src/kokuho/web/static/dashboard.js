// 国保 見える化: sortable tables, progress of figures being computed, the what-if slider.
// Plain JavaScript, shipped with the package; the pages work without it (except the slider).
"use strict";

function sortTable(table, index, th) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter((r) => r.cells.length > index);
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  const numeric = /\b(int|float|percent|yen|index)\b/.test(th.className);
  rows.sort((a, b) => {
    const x = a.cells[index].dataset.sort || "";
    const y = b.cells[index].dataset.sort || "";
    if (x === "" && y !== "") return 1;  // blanks last either way
    if (y === "" && x !== "") return -1;
    const order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, "ja");
    return ascending ? order : -order;
  });
  for (const other of th.parentNode.children) other.setAttribute("aria-sort", "none");
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  for (const row of rows) body.appendChild(row);
}

function initSorting() {
  for (const table of document.querySelectorAll("table.sortable")) {
    const headers = table.tHead ? Array.from(table.tHead.rows[0].cells) : [];
    headers.forEach((th, index) => {
      const button = th.querySelector("button.sort");
      if (button) button.addEventListener("click", () => sortTable(table, index, th));
    });
  }
}

function initProgress() {
  const panel = document.querySelector("[data-jobs]");
  if (!panel || !panel.dataset.jobs) return;
  const ids = panel.dataset.jobs.split(",").filter(Boolean);
  async function poll() {
    let finished = 0;
    for (const id of ids) {
      try {
        const answer = await fetch(`/jobs/${id}`, { credentials: "same-origin" });
        if (!answer.ok) { finished += 1; continue; }
        const job = await answer.json();
        const box = panel.querySelector(`[data-job="${id}"]`);
        if (box) {
          const bar = box.querySelector("progress");
          if (bar) bar.value = job.progress;
          const label = box.querySelector("label");
          if (label && label.firstChild) label.firstChild.textContent = `${job.message} `;
        }
        if (job.state === "done" || job.state === "failed") finished += 1;
      } catch (error) {
        finished += 0;
      }
    }
    if (finished === ids.length) window.location.reload();
    else window.setTimeout(poll, 700);
  }
  window.setTimeout(poll, 400);
}

function initPickers() {
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form.submit());
  }
  for (const select of document.querySelectorAll("select.autonavigate")) {
    select.addEventListener("change", () => {
      const year = new URLSearchParams(window.location.search).get("fy");
      window.location.href = select.value + (year ? `?fy=${year}` : "");
    });
  }
}

const yen = (v) => (v === null || v === undefined ? "—" : `${Math.round(v).toLocaleString("ja-JP")}円`);
const pts = (v) => (v === null || v === undefined ? "—" : `${Number(v).toLocaleString("ja-JP")}点`);

function initWhatIf() {
  const form = document.querySelector("form.what-if");
  if (!form) return;
  const result = document.querySelector(".what-if-result");
  const slider = form.elements.value;
  const lever = form.elements.lever;
  const shown = form.elements.shown;
  let timer = null;
  function unit() { return lever.selectedOptions[0].dataset.unit || ""; }
  function label() {
    const v = Number(slider.value);
    shown.value = unit() === "%" ? `${(v * 100).toFixed(1)}%` : `${v}`;
  }
  function setRange() {
    const option = lever.selectedOptions[0];
    slider.min = option.dataset.min; slider.max = option.dataset.max; slider.step = option.dataset.step;
    const current = JSON.parse(option.dataset.current || "{}")[form.elements.insurer.value];
    slider.value = current === undefined || current === null ? option.dataset.min : current;
    label();
  }
  async function ask() {
    const params = new URLSearchParams({
      fy: form.dataset.year, insurer: form.elements.insurer.value, lever: lever.value, value: slider.value,
    });
    const set = (field, text) => { const el = result.querySelector(`[data-field="${field}"]`); if (el) el.textContent = text; };
    const answer = await fetch(`/grants/what-if?${params}`, { credentials: "same-origin" });
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      // No figures of the slider's previous value beside its new one: only the reason.
      for (const field of ["points_before", "points_after", "yen_before", "yen_after", "yen_change"]) set(field, "—");
      set("note", data.error || "試算できません");
      delete result.dataset.ready;
      return;
    }
    set("points_before", pts(data.points_before)); set("points_after", pts(data.points_after));
    set("yen_before", yen(data.yen_before)); set("yen_after", yen(data.yen_after));
    const change = data.yen_after - data.yen_before;
    set("yen_change", `${change >= 0 ? "+" : "−"}${yen(Math.abs(change))}`);
    set("note", data.note || "");
    result.dataset.ready = "1";
  }
  function changed() { label(); window.clearTimeout(timer); timer = window.setTimeout(ask, 150); }
  slider.addEventListener("input", changed);
  lever.addEventListener("change", () => { setRange(); ask(); });
  form.elements.insurer.addEventListener("change", () => { setRange(); ask(); });
  setRange();
  ask();
}

document.addEventListener("DOMContentLoaded", () => {
  initSorting(); initProgress(); initPickers(); initWhatIf();
});
