// trip ui: the console page. Every string that comes from the store (trip ids, reasons,
// event details) reaches the page through textContent or setAttribute, never as HTML, so a
// trip id that holds markup shows as text. There is no innerHTML in this file.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const STATES = ["booked", "compensated", "rejected", "running", "stuck", "failed"];

// The start-up token (from `trip ui`'s printed URL) enables the actions; it is moved out of
// the address bar so it does not linger in the history.
const token = (() => {
  const url = new URL(window.location.href);
  const t = url.searchParams.get("token");
  if (t) {
    sessionStorage.setItem("trip-ui-token", t);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem("trip-ui-token");
})();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") {
      for (const [ev, f] of Object.entries(v)) node.addEventListener(ev, f);
    } else {
      node.setAttribute(k, String(v));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces a node's children (arrays flattened, as `el` does).
function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

async function getJson(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), { status: r.status });
  return body;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function fmtTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function badge(state) {
  return el("span", { class: `badge s-${state}`, "data-state": state }, state);
}

function tripHref(id) {
  return `#/trip/${encodeURIComponent(id)}`;
}

// ----- routing -----

const view = { name: "", arg: null, filter: "all", q: "" };

function route() {
  const hash = window.location.hash || "#/";
  const app = document.getElementById("app");
  document.querySelectorAll("nav a").forEach((a) => a.classList.remove("active"));
  if (hash.startsWith("#/trip/")) {
    view.name = "trip";
    view.arg = decodeURIComponent(hash.slice("#/trip/".length));
  } else if (hash === "#/dlq") {
    view.name = "dlq";
    document.getElementById("nav-dlq").classList.add("active");
  } else {
    view.name = "trips";
    document.getElementById("nav-trips").classList.add("active");
  }
  fill(app);
  render(true);
}

async function render(fresh) {
  try {
    await refreshOverview();
    if (view.name === "trip") await renderTrip(view.arg, fresh);
    else if (view.name === "dlq") await renderDlq();
    else await renderTrips(fresh);
  } catch (e) {
    const app = document.getElementById("app");
    fill(app, el("div", { class: "error", id: "error" }, e.message));
  }
}

async function refreshOverview() {
  const o = await getJson("/api/overview");
  document.getElementById("store-path").textContent = o.store;
  document.getElementById("dlq-count").textContent = o.deadLetters;
  document.getElementById("dlq-count").classList.toggle("hot", o.deadLetters > 0);
  return o;
}

// ----- trips list -----

async function renderTrips(fresh) {
  const app = document.getElementById("app");
  if (fresh || !document.getElementById("trips")) {
    const search = el("input", {
      id: "search", type: "search", placeholder: "Search by trip id", value: view.q,
      on: { input: (e) => { view.q = e.target.value; renderTrips(false); } },
    });
    fill(app,
      el("section", { class: "counts", id: "counts" }),
      el("div", { class: "toolbar" }, el("div", { id: "filters", class: "filters" }), search),
      el("table", { id: "trips", class: "grid" },
        el("thead", {}, el("tr", {},
          ["trip", "state", "started", "duration", "transitions", "events", "last event"]
            .map((h) => el("th", {}, h)))),
        el("tbody", {})),
      el("p", { id: "matching", class: "muted" }));
  }
  const params = new URLSearchParams();
  if (view.filter !== "all") params.set("state", view.filter);
  if (view.q) params.set("q", view.q);
  const data = await getJson(`/api/trips?${params}`);
  const counts = document.getElementById("counts");
  fill(counts,
    el("div", { class: "count total" }, el("b", { "data-count": "total" }, data.counts.total), "trips"),
    STATES.map((s) => el("div", { class: `count s-${s}` },
      el("b", { "data-count": s }, data.counts[s]), s)));
  const filters = document.getElementById("filters");
  fill(filters, ...["all", ...STATES].map((s) =>
    el("button", {
      class: s === view.filter ? "chip on" : "chip", "data-filter": s,
      on: { click: () => { view.filter = s; renderTrips(false); } },
    }, s, " ", el("span", { class: "n" }, s === "all" ? data.counts.total : data.counts[s]))));
  const body = document.querySelector("#trips tbody");
  fill(body, ...data.trips.map((t) =>
    el("tr", { "data-trip-id": t.tripId, "data-state": t.state },
      el("td", {}, el("a", { href: tripHref(t.tripId), class: "trip-link" }, t.tripId)),
      el("td", {}, badge(t.state)),
      el("td", { title: t.started }, fmtTime(t.started)),
      el("td", {}, duration(t)),
      el("td", { class: "num" }, t.transitions ?? "—"),
      el("td", { class: "num" }, t.events),
      el("td", {}, t.lastEvent))));
  if (data.trips.length === 0) {
    body.appendChild(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No trips match.")));
  }
  document.getElementById("matching").textContent =
    `${data.matching} matching · showing ${data.trips.length}`;
}

function duration(t) {
  if (t.durationMs !== null) return fmtMs(t.durationMs);
  const idle = Math.max(0, Date.now() - t.lastEventMs);
  return t.state === "stuck" ? `stuck: no event for ${fmtMs(idle)}` : "running";
}

// ----- one trip -----

async function renderTrip(id, fresh) {
  const app = document.getElementById("app");
  const [t, g] = await Promise.all([
    getJson(`/api/trips/${encodeURIComponent(id)}`),
    getJson(`/api/trips/${encodeURIComponent(id)}/graph`).catch(() => null),
  ]);
  const scroll = window.scrollY;
  const facts = [
    ["execution", t.executionStatus || "not started"],
    ["started", fmtTime(t.started)],
    ["duration", duration(t)],
    ["transitions", t.transitions ?? "—"],
    ["events", t.events.length],
  ];
  if (t.failedStep) facts.push(["failed step", t.failedStep]);
  const outcome = [];
  if (t.outcome && t.outcome.outcome === "failed") {
    outcome.push(el("p", { class: "outcome bad" },
      `Failed at ${t.outcome.failedStep} with ${t.outcome.error}`,
      t.outcome.cause ? ` — ${t.outcome.cause}` : "",
      `; undone: ${t.outcome.undone.join(", ") || "nothing"}`));
  } else if (t.outcome && t.outcome.outcome === "rejected") {
    outcome.push(el("div", { class: "outcome bad", id: "reasons" },
      el("p", {}, "Rejected before any saga started:"),
      el("ul", {}, t.outcome.reasons.map((r) => el("li", {}, el("code", {}, r.path), ": ", r.reason)))));
  }
  fill(app,
    el("p", {}, el("a", { href: "#/" }, "← all trips")),
    el("h1", { id: "trip-title" }, el("span", { id: "trip-id" }, t.tripId), " ", badge(t.state)),
    el("dl", { class: "facts" }, facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v)))),
    outcome,
    el("div", { class: "columns" },
      el("section", { class: "card" }, el("h2", {}, "State machine",
        g ? el("span", { class: "muted" }, ` ${g.stateMachine}`) : ""),
        g && t.execution ? graphView(g.graph)
          : el("p", { class: "muted", id: "no-execution" }, "No execution: the saga never started.")),
      el("section", { class: "card" }, el("h2", {}, "Events"), timeline(t))),
    el("section", { class: "card" }, el("h2", {}, "Execution history"), historyTable(t)),
    el("section", { class: "card" }, el("h2", {}, "Bookings and inventory held"), bookings(t)),
    el("section", { class: "card" }, el("h2", {}, "Dead letters"), deadLetterTable(t.deadLetters)));
  if (!fresh) window.scrollTo(0, scroll);
}

function graphView(g) {
  const legend = el("div", { class: "legend" },
    ["visited", "failed", "compensation", "current", "idle"].map((m) =>
      el("span", { class: `key m-${m}` }, m)));
  const root = svg("svg", {
    id: "graph", viewBox: `0 0 ${g.width} ${g.height}`, width: g.width, height: g.height,
    role: "img", "aria-label": "state machine",
  });
  root.appendChild(svg("defs", {},
    svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  const first = g.nodes.find((n) => n.name === g.startAt);
  if (first) {
    const cx = first.x + 100;
    root.appendChild(svg("g", { class: "start" },
      svg("circle", { cx, cy: first.y - 44, r: 9 }),
      svg("line", { x1: cx, y1: first.y - 35, x2: cx, y2: first.y, "marker-end": "url(#arrow)" })));
  }
  for (const e of g.edges) {
    root.appendChild(svg("path", {
      d: e.path, class: `edge k-${e.kind}${e.taken ? " taken" : ""}`, "marker-end": "url(#arrow)",
      "data-from": e.from, "data-to": e.to,
    }, e.label ? svg("title", {}, `Catch ${e.label}`) : null));
  }
  for (const n of g.nodes) {
    const label = n.name.length > 26 ? `${n.name.slice(0, 25)}…` : n.name;
    root.appendChild(svg("g", {
      class: `node m-${n.mark}${n.end ? " end" : ""}`, "data-state-name": n.name, "data-mark": n.mark,
      transform: `translate(${n.x},${n.y})`,
    },
    svg("title", {}, `${n.name} (${n.stateType})${n.comment ? ` — ${n.comment}` : ""}`),
    svg("rect", { width: 200, height: 36, rx: 6 }),
    svg("text", { x: 100, y: 16, "text-anchor": "middle", class: "name" }, label),
    svg("text", { x: 100, y: 29, "text-anchor": "middle", class: "type" },
      n.stateType + (n.attempts > 1 ? ` · ${n.attempts} attempts` : ""))));
  }
  return el("div", { class: "graph" }, legend, el("div", { class: "graph-scroll" }, root));
}

function flash(id) {
  const target = document.getElementById(id);
  if (!target) return;
  target.scrollIntoView({ block: "center" });
  target.classList.remove("flash");
  void target.offsetWidth;
  target.classList.add("flash");
}

function describe(e) {
  const d = e.detail || {};
  if (d.reason) return `${d.reason}${d.message ? `: ${d.message}` : ""}`;
  if (d.bookingId) return d.bookingId;
  if (d.failedStep) return `failed at ${d.failedStep}`;
  if (Array.isArray(d.reasons)) return `${d.reasons.length} reason(s)`;
  return "";
}

function timeline(t) {
  if (t.events.length === 0) return el("p", { class: "muted" }, "No events.");
  return el("ol", { class: "timeline", id: "timeline" }, t.events.map((e) =>
    el("li", { id: `e-${e.seq}`, "data-event-id": e.eventId, class: `ev src-${e.source.replace(/[^a-z]/g, "")}` },
      el("span", { class: "t" }, `+${e.elapsedMs} ms`),
      el("span", { class: "dt" }, e.detailType),
      el("span", { class: "src" }, e.source),
      el("span", { class: "what" }, describe(e)),
      e.historyId !== null
        ? el("a", {
          href: `#h-${e.historyId}`, class: "link", "data-history-id": e.historyId,
          on: { click: (ev) => { ev.preventDefault(); flash(`h-${e.historyId}`); } },
        }, e.link === "caused" ? `caused #${e.historyId}` : `sent by #${e.historyId}`)
        : null)));
}

function historyTable(t) {
  if (t.history.length === 0) return el("p", { class: "muted" }, "No execution history.");
  const bySeq = new Map(t.events.map((e) => [e.eventId, e]));
  return el("table", { class: "grid", id: "history" },
    el("thead", {}, el("tr", {}, ["#", "elapsed", "type", "state", "error", "cause", "events"].map((h) => el("th", {}, h)))),
    el("tbody", {}, t.history.map((h) =>
      el("tr", { id: `h-${h.id}`, class: h.error ? "err" : null, "data-type": h.eventType },
        el("td", { class: "num" }, h.id),
        el("td", { class: "num" }, `${h.elapsedMs} ms`),
        el("td", {}, h.eventType),
        el("td", {}, h.state || ""),
        el("td", {}, h.error || ""),
        el("td", { class: "cause" }, h.cause || ""),
        el("td", {}, h.eventIds.map((id) => {
          const e = bySeq.get(id);
          return e ? el("a", {
            href: `#e-${e.seq}`, class: "link",
            on: { click: (ev) => { ev.preventDefault(); flash(`e-${e.seq}`); } },
          }, e.detailType) : null;
        }))))));
}

function bookings(t) {
  if (t.bookings.length === 0) return el("p", { class: "muted" }, "No bookings.");
  return el("table", { class: "grid", id: "bookings" },
    el("thead", {}, el("tr", {}, ["service", "booking", "status", "units", "holds (held / capacity now)", "note"].map((h) => el("th", {}, h)))),
    el("tbody", {}, t.bookings.map((b) =>
      el("tr", { "data-service": b.service },
        el("td", {}, b.service),
        el("td", {}, el("code", {}, b.bookingId)),
        el("td", {}, el("span", { class: `bstatus b-${b.status.toLowerCase()}` }, b.status)),
        el("td", { class: "num" }, b.units),
        el("td", {}, el("ul", { class: "holds" }, b.holds.map((h) =>
          el("li", {}, el("code", {}, h.key), ` ${h.held ?? "?"} / ${h.capacity ?? "?"}`)))),
        el("td", {}, b.failure || (b.wasBooked && b.status === "CANCELLED" ? "released" : ""))))));
}

function deadLetterTable(dead, withTrip) {
  if (dead.length === 0) return el("p", { class: "muted" }, "No dead letters.");
  return el("table", { class: "grid", id: "dead-letters" },
    el("thead", {}, el("tr", {}, [...(withTrip ? ["queue", "trip"] : ["queue"]), "type", "receives", "dead since", "reason", "body"].map((h) => el("th", {}, h)))),
    el("tbody", {}, dead.map((d) =>
      el("tr", { "data-message-id": d.messageId },
        el("td", {}, d.queue),
        withTrip ? el("td", {}, d.tripId ? el("a", { href: tripHref(d.tripId) }, d.tripId) : "—") : null,
        el("td", {}, d.detailType || "—"),
        el("td", { class: "num" }, d.receiveCount),
        el("td", {}, d.deadLetteredAt ? fmtTime(d.deadLetteredAt) : ""),
        el("td", { class: "reason" }, d.reason || ""),
        el("td", {}, el("details", {}, el("summary", {}, `${d.body.length} bytes`), el("pre", {}, d.body)))))));
}

// ----- dead letters -----

async function renderDlq() {
  const data = await getJson("/api/dlq");
  const app = document.getElementById("app");
  const actions = el("div", { class: "toolbar" });
  if (token) {
    actions.appendChild(el("button", {
      id: "redrive", class: "action", disabled: data.deadLetters.length === 0,
      on: { click: redrive },
    }, "Redrive all"));
  } else {
    actions.appendChild(el("p", { class: "muted" },
      "Read-only: open the address `trip ui` printed (with its token) to redrive."));
  }
  fill(app,
    el("h1", {}, "Dead letters"),
    el("p", { class: "muted" }, "Messages their consumer failed on until the queue's maxReceiveCount, with the reason of the last attempt."),
    actions,
    el("p", { id: "action-result", class: "muted" }),
    deadLetterTable(data.deadLetters, true));
}

async function redrive() {
  const out = document.getElementById("action-result");
  const r = await fetch("/api/dlq/redrive", { method: "POST", headers: { "X-Trip-Token": token } });
  const body = await r.json().catch(() => ({}));
  out.textContent = r.ok
    ? `Redrove ${body.redriven} message(s); ${body.deadLettersLeft} back in a dead-letter queue.`
    : `Refused: ${body.error || r.statusText}`;
  if (r.ok) render(false);
}

// ----- live -----

function live() {
  const badgeEl = document.getElementById("live");
  const source = new EventSource("/api/stream");
  // Renders again until the page shows the latest sequence number the stream announced.
  let latest = null;
  let rendered = null;
  let busy = false;
  source.addEventListener("open", () => {
    badgeEl.textContent = "live";
    badgeEl.className = "live on";
  });
  source.addEventListener("error", () => {
    badgeEl.textContent = "reconnecting";
    badgeEl.className = "live off";
  });
  // The server could not read the store (it says why); the stream goes on.
  source.addEventListener("store-error", (ev) => {
    badgeEl.textContent = "store error";
    badgeEl.className = "live off";
    badgeEl.title = JSON.parse(ev.data).error;
  });
  source.addEventListener("change", async (ev) => {
    badgeEl.textContent = "live";
    badgeEl.className = "live on";
    latest = JSON.parse(ev.data).lastSeq;
    if (busy) return;
    busy = true;
    while (rendered !== latest) {
      const target = latest;
      await render(false);
      rendered = target;
      document.body.dataset.renderedSeq = rendered;
    }
    busy = false;
  });
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => { route(); live(); });
