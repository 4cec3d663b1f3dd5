// The audit report's script, inlined into audit.html (preflight/audit/html.py).
"use strict";
const report = JSON.parse(document.getElementById("audit-data").textContent);
const ORDER = {fail: 0, warn: 1, pass: 2};
const MARK = {fail: "\u2717", warn: "!", pass: "\u2713", unread: "\u00b7", none: ""};
const TAG = {startup: "the engines will not start", first_use: "the engines start, requests fail",
             silent: "the engines fall back silently", contract: "the contract forbids it"};

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

const findingsByKind = (scope) => {
  const map = {};
  for (const f of scope.findings) if (f.kind) (map[f.kind] = map[f.kind] || []).push(f);
  return map;
};

function grid() {
  const kinds = report.kinds;
  const known = new Set(kinds.map((k) => k.name));
  const table = document.getElementById("grid");
  const groups = el("tr", {class: "groups"}, el("th", {class: "scope", text: "scope"}),
                    el("th", {}), el("th", {}));
  const names = el("tr", {class: "kinds"}, el("th", {class: "scope"}), el("th", {class: "meta", text: "role"}),
                   el("th", {class: "meta", text: "status"}));
  let last = null, span = null;
  for (const k of kinds) {
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
  table.append(el("thead", {}, groups, names));
  const body = el("tbody");
  const scopes = report.scopes.map((s, i) => [s, i]).sort((a, b) => ORDER[a[0].status] - ORDER[b[0].status]);
  for (const [scope, index] of scopes) {
    const row = el("tr", {"data-scope": scope.scope, "data-tenant": scope.tenant, "data-env": scope.env,
                          "data-status": scope.status});
    const name = scope.status === "pass" ? el("span", {text: scope.scope})
                                         : el("a", {href: "#d-" + index, text: scope.scope});
    row.append(el("th", {class: "scope"}, name), el("td", {class: "meta", text: scope.role}),
               el("td", {class: "meta"}, badge(scope.status)));
    const byKind = findingsByKind(scope);
    for (const k of kinds) {
      const route = scope.routes[k.name];
      const status = route ? route.status : "none";
      const lines = [`${k.name} at ${scope.scope}: ${status}`];
      if (route && route.documents.length) lines.push(`documents: ${route.documents.join(", ")}`);
      if (route && route.backend_type !== null) lines.push(`backend_type: ${route.backend_type}`);
      for (const f of byKind[k.name] || []) lines.push(`${f.code}: ${f.message}`);
      row.append(el("td", {class: "c s-" + status, "data-kind": k.name, "data-status": status,
                           title: lines.join("\n"), text: MARK[status]}));
    }
    const others = Object.keys(scope.routes).filter((kind) => !known.has(kind));
    row.append(el("td", {class: "c s-" + (others.length ? "unread" : "none"), "data-kind": "",
                         title: others.join(", "), text: others.length ? String(others.length) : ""}));
    body.append(row);
  }
  table.append(body);
}

function findingRow(f) {
  return el("tr", {class: "finding", "data-code": f.code, "data-status": f.status},
    el("td", {}, badge(f.status)), el("td", {class: "code", text: f.code}),
    el("td", {}, el("div", {text: `${f.subject}: ${f.message}`}),
          el("div", {class: "fix", text: f.fix}),
          el("div", {class: "muted", text: f.status === "fail" ? TAG[f.effect] : "nothing breaks yet"})));
}

function details() {
  const box = document.getElementById("details");
  report.scopes.forEach((scope, index) => {
    if (scope.status === "pass") return;
    const section = el("section", {class: "scope", id: "d-" + index, "data-scope": scope.scope,
                                   "data-tenant": scope.tenant, "data-env": scope.env,
                                   "data-status": scope.status},
      el("h3", {}, badge(scope.status), " " + scope.scope + " ",
         el("span", {class: "muted", text: `${scope.role}, ${scope.documents} document(s)`})));
    section.append(el("table", {class: "findings"}, el("tbody", {}, ...scope.findings.map(findingRow))));
    box.append(section);
  });
  if (!box.children.length) box.append(el("p", {class: "muted", text: "No scope has findings."}));
  const registry = document.getElementById("registry");
  if (report.registry_findings.length) {
    registry.append(el("table", {class: "findings"},
                       el("tbody", {}, ...report.registry_findings.map(findingRow))));
  } else {
    registry.append(el("p", {class: "muted", text: "Every document belongs to a scope."}));
  }
}

function drift() {
  const box = document.getElementById("drift");
  const d = report.drift;
  if (!d) { box.append(el("p", {class: "muted", text: "No baseline given (--baseline REPORT.json)."})); return; }
  if (!d.baseline) { box.append(el("p", {class: "muted", text: d.note})); return; }
  box.append(el("p", {id: "drift-summary", text: `since ${d.baseline.started_at}` +
    (d.baseline.file ? ` (${d.baseline.file})` : "") + ": " +
    (Object.entries(d.summary).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(", ") || "no change")}));
  if (!d.changes.length) return;
  const rows = d.changes.map((c) => {
    let detail = "";
    if (c.change === "backend_changed") detail = `${c.before} \u2192 ${c.after}`;
    else if (c.change === "new_failure") detail = c.codes.join(", ");
    else if (c.documents.length) detail = c.documents.join(", ");
    else detail = `${c.before || "-"} \u2192 ${c.after || "-"}`;
    return el("tr", {"data-change": c.change, "data-scope": c.scope, "data-kind": c.kind || ""},
      el("td", {class: "code", text: c.change}), el("td", {text: c.scope}),
      el("td", {text: c.kind || ""}), el("td", {text: detail}));
  });
  box.append(el("table", {class: "drift"}, el("thead", {}, el("tr", {},
    el("th", {text: "change"}), el("th", {text: "scope"}), el("th", {text: "kind"}),
    el("th", {text: "detail"}))), el("tbody", {}, ...rows)));
}

function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const statuses = (params.get("status") || "fail,warn,pass").split(",");
  for (const s of ["fail", "warn", "pass"]) document.getElementById("f-" + s).checked = statuses.includes(s);
  document.getElementById("f-tenant").value = params.get("tenant") || "";
  document.getElementById("f-env").value = params.get("env") || "";
}

function writeHash() {
  const params = new URLSearchParams();
  const statuses = ["fail", "warn", "pass"].filter((s) => document.getElementById("f-" + s).checked);
  if (statuses.length !== 3) params.set("status", statuses.join(","));
  const tenant = document.getElementById("f-tenant").value.trim();
  if (tenant) params.set("tenant", tenant);
  const env = document.getElementById("f-env").value;
  if (env) params.set("env", env);
  history.replaceState(null, "", "#" + params.toString());
}

function apply() {
  const statuses = new Set(["fail", "warn", "pass"].filter((s) => document.getElementById("f-" + s).checked));
  const text = document.getElementById("f-tenant").value.trim().toLowerCase();
  const env = document.getElementById("f-env").value;
  let shown = 0;
  for (const node of document.querySelectorAll("[data-scope][data-status]:not([data-change])")) {
    const visible = statuses.has(node.dataset.status) && (!env || node.dataset.env === env) &&
                    (!text || node.dataset.scope.toLowerCase().includes(text));
    node.hidden = !visible;
    if (visible && node.tagName === "TR") shown += 1;
  }
  document.getElementById("shown").textContent = `${n(shown)} of ${n(report.scopes.length)} scopes shown`;
}

function filters() {
  const select = document.getElementById("f-env");
  for (const env of [...new Set(report.scopes.map((s) => s.env))].sort()) select.append(el("option", {value: env, text: env}));
  readHash();
  for (const id of ["f-fail", "f-warn", "f-pass", "f-env"]) {
    document.getElementById(id).addEventListener("change", () => { writeHash(); apply(); });
  }
  document.getElementById("f-tenant").addEventListener("input", () => { writeHash(); apply(); });
  window.addEventListener("hashchange", () => { readHash(); apply(); });
  apply();
}

header(); grid(); details(); drift(); filters();
document.body.dataset.ready = "true";
