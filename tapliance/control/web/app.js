"use strict";
// The status page: /api/status and /api/history every 5 s, rendered without any library.
const token = new URLSearchParams(location.search).get("token");
const opts = token ? { headers: { Authorization: "Bearer " + token } } : {};
let last = null;

function size(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(2) : n.toFixed(0)) + " " + u[i];
}
function rate(bps) {
  const u = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
  let i = 0;
  while (bps >= 1000 && i < u.length - 1) { bps /= 1000; i++; }
  return bps.toFixed(i ? 1 : 0) + " " + u[i];
}
function ago(s) { return s == null ? "never" : s < 120 ? s.toFixed(0) + " s ago" : (s / 60).toFixed(0) + " min ago"; }
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function renderPeers(s, hist) {
  const body = document.querySelector("#peers tbody");
  body.replaceChildren();
  for (const p of s.peers) {
    const h = hist.peers[p.name];
    const now = h && h.rx.length ? rate(h.rx[h.rx.length - 1]) + " / " + rate(h.tx[h.tx.length - 1]) : "–";
    const who = el("td", {}, el("strong", {}, p.name), el("br"), el("small", {}, p.suite || s.suite || ""));
    if (p.insecure) who.append(el("span", { class: "insecure" }, "insecure: " + p.insecure));
    const st = el("td", { class: "peer-state" }, el("span", { class: "state " + p.state }, p.state));
    if (p.reason) st.append(el("span", { class: "reason" }, p.reason));
    body.append(el("tr", { "data-peer": p.name }, who, st, el("td", {}, p.endpoint || "(not yet known)"),
      el("td", {}, "last_handshake_ago" in p ? ago(p.last_handshake_ago) : "–"),
      el("td", { class: "num" }, size(p.rx_bytes)), el("td", { class: "num" }, size(p.tx_bytes)),
      el("td", { class: "num" }, now)));
  }
}

function chart(name, series, t, window) {
  const w = 1000, h = 120, pad = 28;
  const max = Math.max(1, ...series.rx, ...series.tx);
  const end = t.length ? t[t.length - 1] : 0;  // x by time: the right edge is the newest sample
  const x = (i) => pad + Math.max(0, 1 - (end - t[i]) / window) * (w - pad - 4);
  const y = (v) => h - 14 - (v / max) * (h - 24);
  const path = (vals) => vals.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.innerHTML = `<line class="axis" x1="${pad}" y1="${h - 14}" x2="${w}" y2="${h - 14}"/>` +
    `<text x="2" y="12">${rate(max)}</text><text x="2" y="${h - 2}">-15 min</text>` +
    `<text x="${w - 30}" y="${h - 2}">now</text>` +
    (series.rx.length ? `<path class="rx" d="${path(series.rx)}"/><path class="tx" d="${path(series.tx)}"/>` : "");
  return el("div", { class: "chart", "data-peer": name }, el("h3", {}, name + " — in (blue) / out (red)"), svg);
}

function renderCharts(hist) {
  const box = document.getElementById("charts");
  box.replaceChildren();
  for (const [name, series] of Object.entries(hist.peers)) box.append(chart(name, series, hist.t, hist.window));
  if (!Object.keys(hist.peers).length) box.append("collecting samples (one every 10 s)…");
}

function renderDrops(s) {
  const body = document.querySelector("#drops tbody");
  body.replaceChildren();
  const rows = Object.entries(s.drops || {});
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 3 }, "none")));
  for (const [k, v] of rows) {
    body.append(el("tr", {}, el("td", {}, k), el("td", { class: "num" }, String(v)),
      el("td", { class: "num" }, String((s.drops_last_minute || {})[k] || 0))));
  }
}

async function refresh() {
  try {
    const [s, hist] = await Promise.all([fetch("api/status", opts).then((r) => r.json()),
      fetch("api/history", opts).then((r) => r.json())]);
    last = s;
    document.getElementById("iface").textContent = s.interface;
    const up = s.peers.filter((p) => p.state === "up").length;
    document.getElementById("summary").textContent = `${s.hub ? "hub" : "point to point"} · ${up} of ` +
      `${s.peers.length} peer(s) up · uptime ${(s.uptime / 60).toFixed(0)} min · pid ${s.pid}`;
    renderPeers(s, hist);
    renderCharts(hist);
    renderDrops(s);
    document.body.dataset.loaded = "yes";
  } catch (e) {
    document.getElementById("summary").textContent = "cannot reach the daemon: " + e;
  }
}
refresh();
setInterval(refresh, 5000);
