// The audit report's script, inlined into audit.html (preflight/audit/html.py). A fleet has
// thousands of scopes, so it draws only what is asked for: the grid's rows in view, a scope's
// findings when it is opened, long lists a page at a time.
"use strict";
const data = JSON.parse(document.getElementById("audit-data").textContent);
const report = data.head, S = data.strings;
// A string the page's data refers to: an index into the table of repeated strings, or the
// string itself once the table is full (html.py MAX_STRINGS); null stays null.
const str = (ref) => (ref === null || typeof ref === "string" ? ref : S[ref]);
const STATUSES = ["fail", "warn", "pass"];
const ORDER = {fail: 0, warn: 1, pass: 2};
const MARK = {fail: "\u2717", warn: "!", pass: "\u2713", unread: "\u00b7", none: ""};
const PAGE = 50;  // scopes, findings or changes on one page of a list
const OVERSCAN = 10;  // grid rows drawn beyond each edge of the view

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}
const n = (value) => Number(value).toLocaleString("en");
const badge = (status) => el("span", {class: "badge b-" + status, text: status});

// The compact rows html.py writes, read into objects only for what is drawn.
const findingOf = (f) => ({status: str(f[0]), code: str(f[1]), subject: f[2], message: str(f[3]),
                           fix: str(f[4]), tag: str(f[5]), kind: str(f[6])});
const scopeAt = (index) => {
  const r = data.scopes[index];
  return {index, label: r[0], env: str(r[1]), role: str(r[2]), status: str(r[3]), documents: r[4],
          cells: r[5].map((c) => ({kind: str(c[0]), status: str(c[1]), documents: c[2],
                                   backend: str(c[3])})),
          findings: r[6].map(findingOf)};
};
const labelOf = (index) => data.scopes[index][0];
const statusOf = (index) => str(data.scopes[index][3]);

function header() {
  const head = document.getElementById("head");
  const t = report.target, s = report.summary.scopes;
  head.append(el("h1", {}, "preflight audit ", badge(report.status)));
  head.append(el("div", {class: "muted", text:
    `registry ${t.collection} in project ${t.project}, database ${t.database}; profile ` +
    `${t.profile}${t.emulator ? " (emulator)" : ""}; ${report.started_at}, ` +
    `${(report.duration_ms / 1000).toFixed(2)} s, exit ${report.exit_code}`}));
  head.append(el("p", {class: "chips", id: "summary"},
    el("span", {text: `${n(report.registry.scopes)} scopes of ${n(report.registry.tenants)} tenants`}),
    el("span", {"data-count": "fail"}, badge("fail"), " " + n(s.fail)),
    el("span", {"data-count": "warn"}, badge("warn"), " " + n(s.warn)),
    el("span", {"data-count": "pass"}, badge("pass"), " " + n(s.pass)),
    el("span", {text: `${n(report.registry.documents)} documents in ${n(report.registry.pages)} pages`})));
  if (report.error) {
    head.append(el("div", {class: "error", id: "read-error"},
      el("strong", {text: "Could not read the registry: "}), report.error.message,
      report.error.remediation ? el("div", {class: "fix", text: report.error.remediation}) : null));
  }
}

// ------------------------------------------------------------------ the view and the link
const view = {
  order: [],  // scope indices, failing first
  shown: [],  // the grid's rows: scopes the filters let through
  listed: [],  // the findings list: shown scopes that fail or warn
  key: null,  // the filters `shown` was computed for
  selected: null,  // the scope whose findings the link opens
};

function filters() {
  return {statuses: new Set(STATUSES.filter((s) => document.getElementById("f-" + s).checked)),
          text: document.getElementById("f-tenant").value.trim(),
          env: document.getElementById("f-env").value};
}

function fragment(scope) {
  const params = new URLSearchParams(), current = filters();
  if (current.statuses.size !== STATUSES.length) params.set("status", [...current.statuses].join(","));
  if (current.text) params.set("tenant", current.text);
  if (current.env) params.set("env", current.env);
  if (scope) params.set("scope", scope);
  return params.toString();
}

function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const statuses = (params.get("status") || STATUSES.join(",")).split(",");
  for (const s of STATUSES) document.getElementById("f-" + s).checked = statuses.includes(s);
  document.getElementById("f-tenant").value = params.get("tenant") || "";
  document.getElementById("f-env").value = params.get("env") || "";
  view.selected = params.get("scope");
}

function writeHash() {
  history.replaceState(null, "", "#" + fragment(view.selected));
}

// ------------------------------------------------------------------ the grid
const wrap = document.getElementById("gridwrap"), table = document.getElementById("grid");
const rows = el("tbody");
const spacer = () => el("tr", {class: "pad"}, el("td", {colspan: report.kinds.length + 4}));
const above = spacer(), below = spacer();
const drawn = {first: -1, last: -1, height: 22};

function gridHead() {
  const groups = el("tr", {class: "groups"}, el("th", {class: "scope", text: "scope"}),
                    el("th", {}), el("th", {}));
  const names = el("tr", {class: "kinds"}, el("th", {class: "scope"}), el("th", {class: "meta", text: "role"}),
                   el("th", {class: "meta", text: "status"}));
  let last = null, span = null;
  for (const k of report.kinds) {
    const group = k.at === "serving" ? "request-time" : k.at === "startup" ? "start-up" : "fixed";
    const where = k.at === "serving" ? "every scope with a project" : k.scope;
    if (group + where !== last) {
      span = el("th", {colspan: 0, text: group, title: `looked up at ${where}`});
      groups.append(span);
      last = group + where;
    }
    span.setAttribute("colspan", Number(span.getAttribute("colspan")) + 1);
    names.append(el("th", {class: "k", title: `${k.name}: looked up ${k.at}`}, el("div", {text: k.name})));
  }
  groups.append(el("th", {text: "other"}));
  names.append(el("th", {class: "k"}, el("div", {text: "unknown kinds"})));
  table.append(el("thead", {}, groups, names), rows);
}

function gridRow(index, position) {
  const scope = scopeAt(index);
  const row = el("tr", {class: "row", "data-row": position, "data-scope": scope.label,
                        "data-env": scope.env, "data-status": scope.status});
  const name = scope.status === "pass" ? el("span", {text: scope.label})
                                       : el("a", {href: "#" + fragment(scope.label), text: scope.label});
  row.append(el("th", {class: "scope"}, name), el("td", {class: "meta", text: scope.role}),
             el("td", {class: "meta"}, badge(scope.status)));
  const cells = new Map(scope.cells.map((cell) => [cell.kind, cell]));
  for (const k of report.kinds) {
    const cell = cells.get(k.name);
    cells.delete(k.name);
    const status = cell ? cell.status : "none";
    const lines = [`${k.name} at ${scope.label}: ${status}`];
    if (cell && cell.documents.length) lines.push(`documents: ${cell.documents.join(", ")}`);
    if (cell && cell.backend !== null) lines.push(`backend_type: ${cell.backend}`);
    for (const f of scope.findings) if (f.kind === k.name) lines.push(`${f.code}: ${f.message}`);
    row.append(el("td", {class: "c s-" + status, "data-kind": k.name, "data-status": status,
                         title: lines.join("\n"), text: MARK[status]}));
  }
  const others = [...cells.keys()];
  row.append(el("td", {class: "c s-" + (others.length ? "unread" : "none"), "data-kind": "",
                       title: others.join(", "), text: others.length ? String(others.length) : ""}));
  return row;
}

// The rows in view (and OVERSCAN more each side) between two spacers for the others.
function drawRows(force) {
  const height = drawn.height;
  const top = Math.max(0, wrap.scrollTop - table.tHead.offsetHeight);
  const first = Math.max(0, Math.floor(top / height) - OVERSCAN);
  // The box grows with its rows up to a share of the window: the window's height bounds the view.
  const seen = Math.max(wrap.clientHeight, window.innerHeight);
  const last = Math.min(view.shown.length, Math.ceil((top + seen) / height) + OVERSCAN);
  if (!force && first === drawn.first && last === drawn.last) return;
  drawn.first = first;
  drawn.last = last;
  const drawing = [];
  for (let position = first; position < last; position += 1) drawing.push(gridRow(view.shown[position], position));
  rows.replaceChildren(above, ...drawing, below);
  above.firstChild.style.height = `${first * height}px`;
  below.firstChild.style.height = `${(view.shown.length - last) * height}px`;
  const measured = drawing.length ? drawing[0].getBoundingClientRect().height : 0;
  if (measured > 0 && Math.abs(measured - height) > 0.01) {
    drawn.height = measured;  // the stylesheet fixes it; the browser's rounding decides
    drawRows(true);
  }
}

// ------------------------------------------------------------------ lists a page at a time
function paged(box, holder, list, size, draw, empty, ...tools) {
  const where = el("span", {class: "muted"});
  const previous = el("button", {type: "button", class: "previous", text: "\u2039 previous"});
  const next = el("button", {type: "button", class: "next", text: "next \u203a"});
  const turn = el("span", {class: "turn"}, previous, where, next);
  const bar = el("div", {class: "pager"}, turn, ...tools);
  box.append(bar, holder);
  const pages = {items: [], page: 0, show(page) {
    const count = Math.max(1, Math.ceil(this.items.length / size));
    this.page = Math.min(Math.max(page, 0), count - 1);
    const start = this.page * size, end = Math.min(this.items.length, start + size);
    list.replaceChildren(...this.items.slice(start, end).map(draw));
    if (!this.items.length && empty) list.append(empty);
    turn.hidden = this.items.length <= size;
    for (const tool of tools) tool.hidden = !this.items.length;
    bar.hidden = turn.hidden && !this.items.length;
    where.textContent = `${n(start + 1)}\u2013${n(end)} of ${n(this.items.length)}`;
    previous.disabled = this.page === 0;
    next.disabled = end >= this.items.length;
  }};
  previous.addEventListener("click", () => pages.show(pages.page - 1));
  next.addEventListener("click", () => pages.show(pages.page + 1));
  return pages;
}

function findingRow(f) {
  return el("tr", {class: "finding", "data-code": f.code, "data-status": f.status},
    el("td", {}, badge(f.status)), el("td", {class: "code", text: f.code}),
    el("td", {}, el("div", {text: `${f.subject}: ${f.message}`}),
          el("div", {class: "fix", text: f.fix}), el("div", {class: "muted", text: f.tag})));
}

// ------------------------------------------------------------------ findings by scope
function fillSection(section) {
  if (section.querySelector("table")) return;
  const findings = scopeAt(Number(section.dataset.index)).findings;
  section.append(el("table", {class: "findings"}, el("tbody", {}, ...findings.map(findingRow))));
}

function openSection(section) {
  section.open = true;
  fillSection(section);
}

function scopeSection(index) {
  const r = data.scopes[index];
  const section = el("details", {class: "scope", "data-index": index,
                                 "data-scope": r[0], "data-env": str(r[1]), "data-status": str(r[3])},
    el("summary", {}, badge(str(r[3])), " " + r[0] + " ", el("span", {class: "muted",
       text: `${str(r[2])}, ${r[4]} document(s), ${r[6].length} finding(s)`})));
  section.addEventListener("toggle", () => { if (section.open) fillSection(section); });
  if (r[0] === view.selected) {
    section.classList.add("selected");
    openSection(section);
  }
  return section;
}

const sections = el("div", {id: "sections"});
const details = document.getElementById("details");
const openAll = el("button", {type: "button", id: "open-all", text: "open every scope on this page"});
const scopeList = paged(details, sections, sections, PAGE, scopeSection,
                        el("p", {class: "muted", text: "No scope shown has findings."}), openAll);
openAll.addEventListener("click", () => {
  for (const section of sections.querySelectorAll("details.scope")) openSection(section);
});

function registry() {
  const box = document.getElementById("registry");
  if (!data.registry_findings.length) {
    box.append(el("p", {class: "muted", text: "Every document belongs to a scope."}));
    return;
  }
  const body = el("tbody");
  const findings = paged(box, el("table", {class: "findings"}, body), body, PAGE,
                         (f) => findingRow(findingOf(f)));
  findings.items = data.registry_findings;
  findings.show(0);
}

// ------------------------------------------------------------------ drift
function changeRow(c) {
  let detail = "";
  if (c.change === "backend_changed") detail = `${c.before} \u2192 ${c.after}`;
  else if (c.change === "new_failure") detail = c.codes.join(", ");
  else if (c.documents.length) detail = c.documents.join(", ");
  else detail = `${c.before || "-"} \u2192 ${c.after || "-"}`;
  return el("tr", {"data-change": c.change, "data-scope": c.scope, "data-kind": c.kind || ""},
    el("td", {class: "code", text: c.change}), el("td", {text: c.scope}),
    el("td", {text: c.kind || ""}), el("td", {text: detail}));
}

function drift() {
  const box = document.getElementById("drift");
  const d = data.drift;
  if (!d) { box.append(el("p", {class: "muted", text: "No baseline given (--baseline REPORT.json)."})); return; }
  if (!d.baseline) { box.append(el("p", {class: "muted", text: d.note})); return; }
  box.append(el("p", {id: "drift-summary", text: `since ${d.baseline.started_at}` +
    (d.baseline.file ? ` (${d.baseline.file})` : "") + ": " +
    (Object.entries(d.summary).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(", ") || "no change")}));
  if (!d.changes.length) return;
  const body = el("tbody");
  const changes = paged(box, el("table", {class: "drift"}, el("thead", {}, el("tr", {},
    el("th", {text: "change"}), el("th", {text: "scope"}), el("th", {text: "kind"}),
    el("th", {text: "detail"}))), body), body, PAGE * 2, changeRow);
  changes.items = d.changes;
  changes.show(0);
}

// ------------------------------------------------------------------ filters
function apply(reveal) {
  const current = filters();
  const key = JSON.stringify([[...current.statuses], current.text.toLowerCase(), current.env]);
  if (key !== view.key) {
    const text = current.text.toLowerCase();
    view.key = key;
    view.shown = view.order.filter((index) => {
      const r = data.scopes[index];
      return current.statuses.has(str(r[3])) && (!current.env || str(r[1]) === current.env) &&
             (!text || r[0].toLowerCase().includes(text));
    });
    view.listed = view.shown.filter((index) => statusOf(index) !== "pass");
    wrap.scrollTop = 0;
  }
  document.getElementById("shown").textContent =
    `${n(view.shown.length)} of ${n(data.scopes.length)} scopes shown`;
  drawRows(true);
  const position = view.selected === null ? -1
    : view.listed.findIndex((index) => labelOf(index) === view.selected);
  if (position < 0) view.selected = null;
  scopeList.items = view.listed;
  scopeList.show(position >= 0 ? Math.floor(position / PAGE) : 0);
  const selected = sections.querySelector("details.selected");
  if (reveal && selected) {
    selected.style.scrollMarginTop = `${document.getElementById("filters").offsetHeight + 8}px`;
    selected.scrollIntoView({block: "start"});
  }
}

function start() {
  const select = document.getElementById("f-env");
  const envs = new Set(data.scopes.map((r) => str(r[1])));
  for (const env of [...envs].sort()) select.append(el("option", {value: env, text: env}));
  view.order = data.scopes.map((_, index) => index)
    .sort((a, b) => ORDER[statusOf(a)] - ORDER[statusOf(b)]);
  readHash();
  for (const id of ["f-fail", "f-warn", "f-pass", "f-env"]) {
    document.getElementById(id).addEventListener("change", () => { apply(); writeHash(); });
  }
  document.getElementById("f-tenant").addEventListener("input", () => { apply(); writeHash(); });
  window.addEventListener("hashchange", () => { readHash(); apply(true); });
  wrap.addEventListener("scroll", () => drawRows(false), {passive: true});
  window.addEventListener("resize", () => drawRows(true));
  apply(true);
}

header(); gridHead(); registry(); drift(); start();
document.body.dataset.ready = "true";
