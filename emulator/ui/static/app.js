// The emulator's dashboard: one document, a page per #route, every number read from the
// control plane (/_emulator/...). Pages re-read their data every second while visible.
"use strict";

const API = "/_emulator";
const PAGE = 50;
const LIVE_MS = 1000;

// -- small helpers ---------------------------------------------------------------------------

// Builds DOM nodes; text always goes in as text, never as HTML (bodies are client input).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const svgNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const text = q.toString();
  return text ? "?" + text : "";
}

async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {} };
  if (options.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const resp = await fetch(API + path, init);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!resp.ok) {
    const message = data && data.message ? data.message : `${resp.status} ${text.slice(0, 200)}`;
    throw new Error(message);
  }
  return { data, total: Number(resp.headers.get("X-Total-Count") || 0) };
}

function toast(message, bad) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = ""; }, 4000);
}

async function act(label, fn) {
  try {
    await fn();
    toast(label);
  } catch (err) {
    toast(`${label} failed: ${err.message}`, true);
  }
  live.now();
}

const ns = () => document.getElementById("namespace").value;
const time = (iso) => (iso ? iso.replace("T", " ").replace("Z", "") : "");
const pretty = (text) => {
  if (text === null || text === undefined || text === "") return "(none)";
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
};

function stateClass(status) {
  const st = String(status).toLowerCase();
  if (/(complet|succe|deliver|^ok$)/.test(st)) return "ok";
  if (/(fail|reject|error|cancel|timeout|expired|skipped)/.test(st)) return "bad";
  return "run";
}
const chip = (status, title) => h("span", { class: `chip ${stateClass(status)}`, title }, status);
const codeClass = (code) => (code === null || code === undefined ? "bad" : code >= 500 ? "bad" : code >= 400 ? "warn" : "ok");
const jobLink = (provider, id, label) => h("a", { href: `#/jobs/${provider}/${id}`, class: "mono" }, label || id);

function table(head, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty || "Nothing yet.");
  return h("div", { class: "scroll" },
    h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)));
}

function pager(offset, total, go) {
  const last = Math.min(offset + PAGE, total);
  return h("div", { class: "pager" },
    h("button", { disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, "‹ newer"),
    h("span", { class: "muted" }, total ? `${offset + 1}–${last} of ${total}` : "0"),
    h("button", { disabled: last >= total, onclick: () => go(offset + PAGE) }, "older ›"));
}

function select(options, value, onchange, attrs = {}) {
  return h("select", { ...attrs, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

// -- live refresh ------------------------------------------------------------------------------

// The current page's refresh runs every second; it replaces its live region only when the
// data changed, so nothing flickers and nothing the user is typing is disturbed.
const live = {
  fn: null, busy: false, again: false,
  set(fn) { this.fn = fn; this.now(); },
  async now() {
    if (!this.fn) return;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    try {
      await this.fn();
      document.getElementById("main").dataset.width = window.innerWidth;  // drawn for this width
    } catch (err) { console.warn(err); } finally { this.busy = false; }
    if (this.again) { this.again = false; this.now(); }
  },
};
window.addEventListener("resize", () => {
  document.querySelectorAll("[data-key]").forEach((el) => { delete el.dataset.key; });
  live.now();
});
// Every second, or less often when a refresh is slow (a big SQLite state): the page never
// keeps the emulator busy more than a fifth of the time.
async function tick() {
  const started = performance.now();
  if (!document.hidden) await Promise.all([live.now(), clock(), namespaces().catch(() => {})]);
  setTimeout(tick, Math.max(LIVE_MS, 4 * (performance.now() - started)));
}
setTimeout(tick, LIVE_MS);

function fill(region, key, build) {
  if (region.dataset.key === key) return;
  region.dataset.key = key;
  region.replaceChildren(build());
}

async function clock() {
  try {
    const { data } = await api("/clock");
    const el = document.getElementById("clock");
    el.textContent = `${data.mode} clock · ${time(data.now)}`;
    el.dataset.mode = data.mode;
  } catch (err) { /* the next tick tries again */ }
}

async function namespaces() {
  const { data } = await api("/namespaces");
  const sel = document.getElementById("namespace");
  const have = [...sel.options].map((o) => o.value);
  for (const name of data) {
    if (!have.includes(name)) sel.append(h("option", { value: name }, name));
  }
}

// -- pages -----------------------------------------------------------------------------------

const ADVANCES = [[1, "+1 s"], [10, "+10 s"], [60, "+1 min"], [600, "+10 min"], [3600, "+1 h"], [86400, "+1 day"]];

function advance(seconds) {
  return act(`clock advanced ${seconds} s`, () => api("/clock/advance", { method: "POST", body: { seconds } }));
}

// The advance buttons; disabled (with the reason as their title) under a real clock.
function clockButtons(mode) {
  const custom = h("input", { type: "number", min: "0", step: "any", placeholder: "seconds", "aria-label": "seconds to advance" });
  const buttons = h("div", { class: "buttons advance" },
    ADVANCES.map(([sec, label]) => h("button", { "data-seconds": sec, onclick: () => advance(sec) }, label)),
    h("span", { class: "custom" }, custom,
      h("button", { onclick: () => advance(Number(custom.value || 0)) }, "advance")));
  buttons.update = (clockMode) => buttons.querySelectorAll("button").forEach((b) => {
    b.disabled = clockMode !== "virtual";
    b.title = b.disabled ? "the clock is real" : "";
  });
  buttons.update(mode);
  return buttons;
}

function overview(main) {
  const region = h("div", { id: "overview-live" });
  const buttons = clockButtons("virtual");
  const clockCard = h("section", { class: "card" }, h("h2", {}, "Clock"),
    h("div", { id: "clock-now", class: "big" }), buttons,
    h("p", { class: "muted", id: "clock-note" }));
  main.replaceChildren(h("h1", {}, "Overview"), clockCard, region);
  live.set(async () => {
    const { data } = await api("/overview" + query({ namespace: ns() }));
    document.getElementById("clock-now").textContent = `${data.clock.mode} · ${time(data.clock.now)}`;
    const virtual = data.clock.mode === "virtual";
    buttons.update(data.clock.mode);
    document.getElementById("clock-note").textContent = virtual
      ? "Transitions and webhook attempts due meanwhile fire in time order."
      : "The clock is real: start the emulator with --clock virtual to advance it.";
    fill(region, JSON.stringify([data.jobs, data.failed_jobs, data.errors, data.failed_webhooks, data.request_total]), () => {
      const providers = Object.entries(data.jobs);
      const perProvider = providers.map(([provider, states]) => h("tr", {},
        h("th", {}, h("a", { href: `#/jobs?provider=${provider}` }, provider)),
        h("td", { class: "chips" }, Object.keys(states).length
          ? Object.entries(states).map(([st, n]) => h("a", { href: `#/jobs?provider=${provider}&status=${encodeURIComponent(st)}` },
            chip(`${st} ${n}`)))
          : h("span", { class: "muted" }, "no jobs"))));
      return h("div", { class: "grid" },
        h("section", { class: "card wide" }, h("h2", {}, "Jobs per provider and state"),
          h("div", { class: "scroll" }, h("table", { id: "job-counts" }, h("tbody", {}, perProvider))),
          h("p", { class: "muted" }, `${data.request_total} requests journalled · ${data.webhook_total} webhook deliveries`)),
        h("section", { class: "card" }, h("h2", {}, `Failed jobs (${data.failed_job_total})`),
          table(["job", "state", "updated"], data.failed_jobs.map((j) => h("tr", {},
            h("td", {}, jobLink(j.provider, j.id, `${j.provider}/${j.id.slice(0, 12)}`)), h("td", {}, chip(j.status)),
            h("td", {}, time(j.updated_at)))), "No failed job.")),
        h("section", { class: "card" }, h("h2", {}, `Failed webhook deliveries (${data.failed_webhook_total})`),
          table(["delivery", "job", "last error"], data.failed_webhooks.map((d) => {
            const last = d.attempts[d.attempts.length - 1] || {};
            return h("tr", {}, h("td", {}, h("a", { href: `#/webhooks/${d.id}`, class: "mono" }, d.id.slice(0, 12))),
              h("td", {}, d.job_id ? jobLink(d.provider, d.job_id, d.job_id.slice(0, 12)) : ""),
              h("td", {}, last.error || last.status_code || ""));
          }), "Every delivery got through.")),
        h("section", { class: "card" }, h("h2", { title: "4xx and 5xx answers among the latest 5,000 requests" },
          `Error answers (${data.error_total})`),
          table(["request", "status"], data.errors.map((r) => h("tr", {},
            h("td", {}, h("a", { href: `#/requests/${r.seq}` }, `${r.method} ${r.path}`)),
            h("td", {}, h("span", { class: `code ${codeClass(r.status)}` }, r.status)))), "No 4xx or 5xx answer.")));
    });
  });
}

function routeParams(search) {
  return Object.fromEntries(new URLSearchParams(search || ""));
}

function setHash(path, params) {
  const q = query(params);
  location.hash = `#/${path}${q}`;
}

async function providerList() {
  if (!providerList.cache) providerList.cache = (await api("/health")).data.providers;
  return providerList.cache;
}

async function jobs(main, params) {
  const providers = await providerList();
  const offset = Number(params.offset || 0);
  const go = (changes) => setHash("jobs", { ...params, offset: 0, ...changes });
  const status = h("input", { placeholder: "any state", value: params.status || "", id: "filter-status",
    onchange: (e) => go({ status: e.target.value.trim() }) });
  const filters = h("div", { class: "filters" },
    h("label", {}, "provider ", select([["", "all"], ...providers.map((p) => [p, p])], params.provider || "",
      (v) => go({ provider: v }), { id: "filter-provider" })),
    h("label", {}, "state ", status));
  const region = h("div", { id: "jobs-live" });
  main.replaceChildren(h("h1", {}, "Jobs"), filters, region);
  live.set(async () => {
    const { data, total } = await api("/jobs" + query({ provider: params.provider, status: params.status,
      namespace: ns(), offset, limit: PAGE }));
    fill(region, JSON.stringify([data, total]), () => h("div", {},
      table(["state", "provider", "job", "created", "updated", "namespace", "scenario"], data.map((j) => h("tr", { "data-job": j.id },
        h("td", {}, chip(j.status)), h("td", {}, j.provider), h("td", {}, jobLink(j.provider, j.id)),
        h("td", {}, time(j.created_at)), h("td", {}, time(j.updated_at)), h("td", {}, j.namespace),
        h("td", {}, j.scenarios.join(", ")))), "No job matches."),
      pager(offset, total, (o) => setHash("jobs", { ...params, offset: o }))));
  });
}

// The timeline: the job's states over simulated time, its planned transitions dashed, and
// every webhook attempt as a marker (delivered, failed, retried).
function timeline(job) {
  const t = (iso) => Date.parse(iso) / 1000;
  const attempts = [];
  job.deliveries.forEach((d, di) => d.attempts.forEach((a, ai) => {
    const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
    const retried = !ok && (ai < d.attempts.length - 1 || d.status === "pending");
    attempts.push({ at: a.timestamp, kind: ok ? "delivered" : retried ? "retried" : "failed", a, d, di }); // eslint-disable-line
  }));
  const start = t(job.created_at);
  const points = [...job.history.map((x) => t(x.at)), ...job.next.map((x) => t(x.at)), ...attempts.map((x) => x.at)];
  const now = Date.parse(job.now) / 1000;
  const last = Math.max(start + 1, ...points, now);
  const end = last + (last - start) * 0.08;  // room for the state the job is in at the end
  // drawn at the width it is shown at, so its labels stay readable on a phone
  const W = Math.max(300, Math.round(document.getElementById("main").clientWidth - 70));
  const left = 10, right = 10, y = 40, barH = 22;
  const x = (sec) => left + ((sec - start) / (end - start)) * (W - left - right);
  const segs = [];
  const states = [...job.history.map((e) => ({ ...e, planned: false })), ...job.next.map((e) => ({ ...e, planned: true }))];
  states.forEach((e, i) => {
    const from = t(e.at);
    const to = i + 1 < states.length ? t(states[i + 1].at) : end;
    const width = Math.max(2, x(to) - x(from));
    segs.push(s("g", { class: `seg ${stateClass(e.status)}${e.planned ? " planned" : ""}` },
      s("rect", { x: x(from), y, width, height: barH, rx: 3 }),
      s("title", {}, `${e.planned ? "planned: " : ""}${e.status} at ${time(e.at)}`),
      width > 50 ? s("text", { x: x(from) + 4, y: y + 15 }, e.status) : null));
  });
  const marks = attempts.map((m) => s("g", { class: `attempt ${m.kind}`, "data-kind": m.kind },
    s("line", { x1: x(m.at), x2: x(m.at), y1: y + barH + 2, y2: y + barH + 20 }),
    s("circle", { cx: x(m.at), cy: y + barH + 26, r: 6 }),
    s("title", {}, `webhook ${m.d.event || ""} attempt ${m.a.number}: ${m.kind} (${m.a.status_code || m.a.error || "no answer"}) at ${m.a.at}`)));
  const secs = end - start;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => s("text", { x: left + f * (W - left - right), y: 20, class: "tick",
    "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, `+${Math.round(f * secs * 10) / 10}s`));
  const nowLine = s("g", { class: "now" }, s("line", { x1: x(now), x2: x(now), y1: y - 6, y2: y + barH + 6 }),
    s("title", {}, `now: ${time(job.now)}`));
  const svg = s("svg", { viewBox: `0 0 ${W} 110`, class: "timeline", id: "timeline", role: "img",
    "aria-label": "job states over simulated time with webhook attempts" }, ticks, segs, marks, nowLine);
  const legend = h("div", { class: "legend" },
    h("span", { class: "dot delivered" }), "delivered ", h("span", { class: "dot retried" }), "failed, retried ",
    h("span", { class: "dot failed" }), "failed ", h("span", { class: "swatch planned" }), "planned ",
    h("span", { class: "swatch now" }), "now");
  return h("div", {}, svg, legend);
}

async function jobPage(main, provider, id) {
  const catalog = (await api("/scenarios" + query({ provider }))).data.catalog.filter((c) => c.kind === "outcome");
  const outcome = select(catalog.map((c) => [c.name, c.name]),
    (catalog.find((c) => /fail/.test(c.name)) || catalog[0] || {}).name, () => {}, { id: "fail-scenario" });
  const finish = (scenario) => act(scenario ? `failed with ${scenario}` : "finished",
    () => api(`/jobs/${provider}/${id}/finish`, { method: "POST", body: scenario ? { scenario } : {} }));
  const actions = h("div", { class: "buttons" },
    h("button", { id: "finish", onclick: () => finish(null) }, "Finish now"),
    catalog.length ? h("span", { class: "custom" }, outcome, h("button", { id: "fail", class: "danger", onclick: () => finish(outcome.value) }, "Fail now")) : null);
  const clockBar = clockButtons("virtual");
  const head = h("div", { id: "job-head" });
  const region = h("div", { id: "job-live" });
  const answer = h("pre", { id: "answer" }, "…");
  const answerHead = h("p", { class: "muted", id: "answer-head" });
  main.replaceChildren(h("p", {}, h("a", { href: "#/jobs" }, "‹ jobs")), head, actions,
    h("div", { class: "clockbar" }, h("span", { class: "muted" }, "advance the clock "), clockBar), region,
    h("section", { class: "card" }, h("h2", {}, "The provider's answer now"), answerHead, answer));
  let asked = null;
  live.set(async () => {
    const [{ data: job }, { data: clk }] = await Promise.all([api(`/jobs/${provider}/${id}` + query({ namespace: ns() })), api("/clock")]);
    job.now = clk.now;
    clockBar.update(clk.mode);
    fill(head, JSON.stringify([job.status]), () => h("h1", {}, `${provider} job `, h("span", { class: "mono" }, id), " ", chip(job.status)));
    const terminal = job.lifecycle.terminal.includes(job.status);
    actions.querySelectorAll("button").forEach((b) => { b.disabled = terminal; });
    fill(region, JSON.stringify([job.history, job.next, job.deliveries, clk.now]), () => h("div", {},
      h("section", { class: "card" }, h("h2", {}, "Timeline (simulated time)"), timeline(job),
        h("p", { class: "muted" }, `created ${time(job.created_at)} · lifecycle ${job.lifecycle.states.join(" → ")}`,
          ` · terminal ${job.lifecycle.terminal.join(", ")}`)),
      h("div", { class: "grid" },
        h("section", { class: "card" }, h("h2", {}, "Request"), h("pre", { id: "job-request" }, pretty(job.request))),
        h("section", { class: "card" }, h("h2", {}, "Scenario"),
          job.scenario_details.length
            ? job.scenario_details.map((sc) => h("div", { class: "scenario" }, h("b", {}, sc.name), ` (${sc.kind}, ${sc.evidence}) `, sc.summary))
            : h("p", { id: "no-scenario" }, "None: the provider's default outcome."),
          h("p", { class: "muted" }, `namespace ${job.namespace} · account ${job.account || "—"} · webhook ${job.webhook_url || "none"}`))),
      h("section", { class: "card" }, h("h2", {}, `Webhook deliveries (${job.deliveries.length})`), deliveries(job.deliveries))));
    // Ask the provider (as an SDK would) once per change of the job, not every second.
    const key = job.updated_at + job.status;
    if (job.poll && key !== asked) {
      asked = key;
      // asked by the emulator itself: the job's key never reaches the browser
      const { data: a } = await api(`/jobs/${provider}/${id}/answer` + query({ namespace: ns() }));
      answerHead.textContent = `${a.method} ${a.path} → ${a.status} (as the job's client asks)`;
      answer.textContent = pretty(a.body);
    } else if (!job.poll) {
      answerHead.textContent = "This provider declares no poll request.";
    }
  });
}

function deliveries(rows) {
  return table(["delivery", "event", "url", "status", "attempts", ""], rows.slice().reverse().map((d) => h("tr", { "data-delivery": d.id },
    h("td", {}, h("a", { href: `#/webhooks/${d.id}`, class: "mono" }, d.id.slice(0, 14))),
    h("td", {}, d.event), h("td", { class: "url" }, d.url), h("td", {}, chip(d.status)),
    h("td", {}, d.attempts.map((a) => h("span", { class: `code ${codeClass(a.status_code)}`, title: a.error || "" },
      a.status_code || "err"))),
    h("td", {}, h("button", { class: "resend", onclick: () => resend(d.id) }, "Resend")))), "No webhook delivery.");
}

function resend(id) {
  return act("resent", () => api(`/webhooks/${id}/redeliver`, { method: "POST" }));
}

async function webhooks(main, params) {
  const providers = await providerList();
  const offset = Number(params.offset || 0);
  const go = (changes) => setHash("webhooks", { ...params, offset: 0, ...changes });
  const filters = h("div", { class: "filters" },
    h("label", {}, "provider ", select([["", "all"], ...providers.map((p) => [p, p])], params.provider || "", (v) => go({ provider: v }))),
    h("label", {}, "status ", select([["", "all"], ["pending", "pending"], ["delivered", "delivered"], ["failed", "failed"], ["skipped", "skipped"]],
      params.status || "", (v) => go({ status: v }))));
  const region = h("div", { id: "webhooks-live" });
  main.replaceChildren(h("h1", {}, "Webhooks"), filters, region);
  live.set(async () => {
    const { data, total } = await api("/webhooks" + query({ provider: params.provider, status: params.status, namespace: ns(), offset, limit: PAGE }));
    fill(region, JSON.stringify([data, total]), () => h("div", {},
      table(["status", "last answer", "event", "url", "job", "latency", "provider", "created", ""], data.map((d) => {
        const last = d.attempts[d.attempts.length - 1];
        return h("tr", { "data-delivery": d.id }, h("td", {}, chip(d.status)),
          h("td", {}, last ? h("span", { class: `code ${codeClass(last.status_code)}` }, last.status_code || last.error) : "—"),
          h("td", {}, d.event), h("td", { class: "url" }, h("a", { href: `#/webhooks/${d.id}` }, d.url)),
          h("td", {}, d.job_id ? jobLink(d.provider, d.job_id, d.job_id.slice(0, 12)) : ""),
          h("td", {}, last ? `${last.duration_ms} ms` : ""), h("td", {}, d.provider), h("td", {}, time(d.created_at)),
          h("td", {}, h("button", { class: "resend", onclick: () => resend(d.id) }, "Resend")));
      }), "No webhook delivery."),
      pager(offset, total, (o) => setHash("webhooks", { ...params, offset: o }))));
  });
}

async function webhookPage(main, id) {
  const region = h("div", { id: "webhook-live" });
  main.replaceChildren(h("p", {}, h("a", { href: "#/webhooks" }, "‹ webhooks")), region);
  live.set(async () => {
    const { data } = await api("/webhooks" + query({ id }));
    const d = data[0];
    fill(region, JSON.stringify(data), () => (!d ? h("p", { class: "empty" }, `No delivery ${id}.`) : h("div", {},
      h("h1", {}, "Delivery ", h("span", { class: "mono" }, d.id), " ", chip(d.status)),
      h("div", { class: "buttons" }, h("button", { class: "resend", onclick: () => resend(d.id) }, "Resend")),
      h("section", { class: "card" }, h("dl", {},
        h("dt", {}, "provider"), h("dd", {}, d.provider), h("dt", {}, "event"), h("dd", {}, d.event),
        h("dt", {}, "job"), h("dd", {}, d.job_id ? jobLink(d.provider, d.job_id) : "—"),
        h("dt", {}, "url"), h("dd", { class: "url" }, d.url), h("dt", {}, "created"), h("dd", {}, time(d.created_at)),
        h("dt", {}, "attempts"), h("dd", {}, `${d.attempts.length} of at most ${d.max_attempts}`),
        d.next_attempt_at ? [h("dt", {}, "next attempt"), h("dd", {}, time(d.next_attempt_at))] : null,
        d.scenarios.length ? [h("dt", {}, "scenarios"), h("dd", {}, d.scenarios.join(", "))] : null,
        d.note ? [h("dt", {}, "note"), h("dd", {}, d.note)] : null)),
      h("section", { class: "card" }, h("h2", {}, "Body"), h("pre", {}, pretty(d.body))),
      d.attempts.map((a) => h("section", { class: "card attempt-card" },
        h("h2", {}, `Attempt ${a.number} · ${time(a.at)} · `,
          h("span", { class: `code ${codeClass(a.status_code)}` }, a.status_code || "no answer"), ` · ${a.duration_ms} ms`),
        a.error ? h("p", { class: "error" }, a.error) : null,
        h("h3", {}, "Headers sent (signature included)"),
        h("pre", {}, Object.entries(a.headers).map(([k, v]) => `${k}: ${v}`).join("\n")),
        h("h3", {}, "Receiver's answer"), h("pre", {}, pretty(a.response_body)))))));
  });
}

async function requestsPage(main, params) {
  const providers = await providerList();
  const offset = Number(params.offset || 0);
  const go = (changes) => setHash("requests", { ...params, offset: 0, ...changes });
  const filters = h("div", { class: "filters" },
    h("label", {}, "provider ", select([["", "all"], ...providers.map((p) => [p, p])], params.provider || "", (v) => go({ provider: v }))),
    h("label", {}, "method ", select([["", "all"], ...["GET", "POST", "PUT", "DELETE"].map((m) => [m, m])], params.method || "", (v) => go({ method: v }))),
    h("label", {}, "status ", h("input", { value: params.status || "", placeholder: "e.g. 422", size: 6, onchange: (e) => go({ status: e.target.value.trim() }) })));
  const region = h("div", { id: "requests-live" });
  main.replaceChildren(h("h1", {}, "Requests"), filters, region);
  live.set(async () => {
    const { data, total } = await api("/requests" + query({ provider: params.provider, method: params.method, status: params.status,
      namespace: ns(), offset, limit: PAGE }));
    fill(region, JSON.stringify([data.map((r) => r.seq), total]), () => h("div", {},
      table(["status", "method", "path", "validation / error", "latency", "operation", "at"], data.map((r) => h("tr", { "data-seq": r.seq },
        h("td", {}, h("span", { class: `code ${codeClass(r.status)}` }, r.status)), h("td", {}, r.method),
        h("td", { class: "url" }, h("a", { href: `#/requests/${r.seq}` }, r.path + (r.query ? "?" + r.query : ""))),
        h("td", { class: "why" }, verdict(r)), h("td", {}, `${r.duration_ms} ms`),
        h("td", {}, r.operation || ""), h("td", {}, time(r.at)))), "No request yet."),
      pager(offset, total, (o) => setHash("requests", { ...params, offset: o }))));
  });
}

// What the emulator said was wrong, from the answer's body (the validation error names the field).
function verdict(r) {
  if (r.status < 400 || !r.response_body) return (r.scenario || []).length ? `scenario ${r.scenario.join(", ")}` : "";
  try {
    const body = JSON.parse(r.response_body);
    const text = typeof body === "object" && body ? (body.message || body.error || body.detail || JSON.stringify(body)) : String(body);
    return typeof text === "string" ? text : JSON.stringify(text);
  } catch (e) { return r.response_body.slice(0, 200); }
}

async function requestPage(main, seq) {
  const region = h("div", { id: "request-live" });
  main.replaceChildren(h("p", {}, h("a", { href: "#/requests" }, "‹ requests")), region);
  live.set(async () => {
    const { data } = await api("/requests" + query({ seq }));
    const r = data[0];
    fill(region, JSON.stringify(data), () => (!r ? h("p", { class: "empty" }, `No journal entry ${seq}.`) : h("div", {},
      h("h1", {}, `${r.method} `, h("span", { class: "mono" }, r.path), " ", h("span", { class: `code ${codeClass(r.status)}` }, r.status)),
      h("section", { class: "card" }, h("dl", {},
        ["at", "provider", "operation", "query", "duration_ms", "account", "namespace"].map((k) => [h("dt", {}, k), h("dd", {}, String(r[k] ?? "—"))]),
        h("dt", {}, "job"), h("dd", {}, r.job_id && r.provider ? jobLink(r.provider, r.job_id) : "—"),
        h("dt", {}, "scenario"), h("dd", {}, (r.scenario || []).join(", ") || "—"),
        r.faults ? [h("dt", {}, "faults"), h("dd", {}, JSON.stringify(r.faults))] : null)),
      r.status >= 400 ? h("section", { class: "card" }, h("h2", {}, "Error"), h("p", { class: "error" }, verdict(r))) : null,
      h("div", { class: "grid" },
        h("section", { class: "card" }, h("h2", {}, "Request"),
          h("pre", {}, Object.entries(r.request_headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n")),
          h("pre", { id: "request-body" }, pretty(r.request_body))),
        h("section", { class: "card" }, h("h2", {}, "Response"),
          h("pre", {}, Object.entries(r.response_headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n")),
          h("pre", { id: "response-body" }, pretty(r.response_body)))))));
  });
}

async function scenarios(main, params) {
  const providers = await providerList();
  const provider = params.provider || providers[0];
  const { data: first } = await api("/scenarios" + query({ provider }));
  const names = first.catalog.map((c) => [c.name, `${c.name} (${c.kind})`]);
  const ruleScenario = select(names, names.length ? names[0][0] : "", () => {}, { id: "rule-scenario" });
  const count = h("input", { type: "number", min: "1", placeholder: "every request", id: "rule-count", size: 8 });
  const operation = h("input", { placeholder: "any operation", id: "rule-operation", size: 14 });
  const add = () => act("rule added", () => api("/scenarios", { method: "POST", body: {
    provider, scenario: ruleScenario.value, count: count.value ? Number(count.value) : undefined,
    operation: operation.value.trim() || undefined } }));
  const result = h("div", { id: "trigger-result" });
  const trigger = async (name, button) => {
    button.disabled = true;
    result.replaceChildren(h("p", { class: "muted" }, `triggering ${provider}/${name}…`));
    try {
      const { data } = await api("/scenarios/trigger", { method: "POST", body: { provider, scenario: name } });
      result.replaceChildren(h("section", { class: "card" }, h("h2", {}, `${provider} / ${name} → `,
        h("span", { class: `code ${codeClass(data.status)}` }, data.status ?? data.error),
        data.job_id ? [" · ", jobLink(provider, data.job_id, "the job")] : null),
      h("pre", { id: "trigger-lines" }, data.lines.join("\n"))));
    } catch (err) {
      result.replaceChildren(h("p", { class: "error" }, err.message));
    } finally { button.disabled = false; live.now(); }
  };
  const rules = h("div", { id: "rules-live" });
  main.replaceChildren(h("h1", {}, "Scenarios"),
    h("div", { class: "filters" }, h("label", {}, "provider ", select(providers.map((p) => [p, p]), provider,
      (v) => setHash("scenarios", { provider: v }), { id: "scenario-provider" }))),
    h("section", { class: "card" }, h("h2", {}, "Active rules"), rules,
      h("h3", {}, "Add a rule: matching requests take the scenario"),
      h("div", { class: "filters", id: "add-rule" }, ruleScenario, operation, count, h("button", { id: "add-rule-button", onclick: add }, "Add rule"))),
    result,
    h("section", { class: "card" }, h("h2", {}, `Catalogue (${first.catalog.length})`),
      table(["scenario", "kind", "evidence", "what it does", ""], first.catalog.map((c) => h("tr", { "data-scenario": c.name },
        h("td", { class: "mono" }, c.name), h("td", {}, c.kind), h("td", {}, c.evidence), h("td", {}, c.summary),
        h("td", {}, h("button", { class: "trigger", onclick: (e) => trigger(c.name, e.target) }, "Trigger")))))));
  live.set(async () => {
    const { data } = await api("/scenarios" + query({ provider }));
    fill(rules, JSON.stringify(data.active), () => table(["rule", "scenarios", "operation", "job", "remaining", "matched", ""],
      data.active.map((r) => h("tr", { "data-rule": r.id }, h("td", { class: "mono" }, r.id), h("td", {}, r.scenarios.join(", ")),
        h("td", {}, r.operation || "any"), h("td", {}, r.job_id || "any"), h("td", {}, r.remaining ?? "∞"), h("td", {}, r.matched),
        h("td", {}, h("button", { class: "danger", onclick: () => act("rule removed", () => api(`/scenarios/${r.id}`, { method: "DELETE" })) }, "Remove")))),
      "No active rule: requests take their scenarios from headers and magic values only."));
  });
}

// -- routing ---------------------------------------------------------------------------------

async function route() {
  const [path, search] = (location.hash.replace(/^#\/?/, "") || "overview").split("?");
  const parts = path.split("/");
  const params = routeParams(search);
  const main = document.getElementById("main");
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === parts[0]));
  live.fn = null;
  delete main.dataset.route;
  try {
    if (parts[0] === "jobs" && parts.length === 3) await jobPage(main, parts[1], parts[2]);
    else if (parts[0] === "jobs") await jobs(main, params);
    else if (parts[0] === "webhooks" && parts[1]) await webhookPage(main, parts[1]);
    else if (parts[0] === "webhooks") await webhooks(main, params);
    else if (parts[0] === "requests" && parts[1]) await requestPage(main, parts[1]);
    else if (parts[0] === "requests") await requestsPage(main, params);
    else if (parts[0] === "scenarios") await scenarios(main, params);
    else overview(main);
  } catch (err) {
    main.replaceChildren(h("p", { class: "error" }, err.message));
  }
  main.dataset.route = location.hash;  // the page for this route is on screen
}

document.getElementById("namespace").addEventListener("change", (e) => {
  localStorage.setItem("lipsync-emulator-namespace", e.target.value);
  route();
});
(() => {
  const saved = localStorage.getItem("lipsync-emulator-namespace");
  const sel = document.getElementById("namespace");
  if (saved) { sel.append(h("option", { value: saved }, saved)); sel.value = saved; }
})();
window.addEventListener("hashchange", route);
route();
clock();
namespaces().catch(() => {});
