// Dashboard: GPU list (filter by host) and one uPlot chart per metric for the chosen GPU,
// fed by GET /api/v1/gpus/{id}/telemetry/summary. No build step, no CDN: uPlot comes from
// /vendor/uplot (npm, installed at build time).
"use strict";

(function () {
  const BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const MAX_POINTS = 150;
  const $ = (id) => document.getElementById(id);
  const state = {
    gpus: [],
    selected: null,
    charts: [],
    loads: 0, // completed chart loads, for tests
    lastSignature: "",
    token: sessionStorage.getItem("apigw-token") || "",
  };
  window.dashboard = state;

  async function api(path) {
    const headers = {};
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    const res = await fetch(path, { headers });
    if (res.status === 401) {
      $("auth").hidden = false;
      throw new Error("the API needs a bearer token");
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail || res.statusText);
    return body;
  }

  async function listAll(path) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < 100; page++) {
      const sep = path.includes("?") ? "&" : "?";
      const body = await api(path + (cursor ? sep + "cursor=" + encodeURIComponent(cursor) : ""));
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  function setStatus(text, stateName) {
    const el = $("status");
    el.textContent = text;
    el.dataset.state = stateName;
  }

  function renderHosts() {
    const select = $("host-filter");
    const current = select.value;
    const hosts = [...new Set(state.gpus.map((g) => g.hostname))].sort();
    select.innerHTML = '<option value="">all hosts</option>';
    for (const h of hosts) {
      const o = document.createElement("option");
      o.value = h;
      o.textContent = h;
      select.appendChild(o);
    }
    select.value = current;
  }

  function renderList() {
    const host = $("host-filter").value;
    const list = $("gpu-list");
    list.innerHTML = "";
    const shown = state.gpus.filter((g) => !host || g.hostname === host);
    $("gpu-count").textContent = shown.length + " GPU" + (shown.length === 1 ? "" : "s");
    for (const g of shown) {
      const li = document.createElement("li");
      li.dataset.gpu = g.id;
      li.className = state.selected && state.selected.id === g.id ? "selected" : "";
      const top = document.createElement("div");
      top.className = "host";
      top.textContent = g.hostname + " · gpu " + g.gpu_index + " (" + g.device + ")";
      const sub = document.createElement("div");
      sub.className = "sub";
      sub.textContent = g.model_name + " · " + g.id + " · last seen " + g.last_seen;
      li.append(top, sub);
      li.addEventListener("click", () => select(g));
      list.appendChild(li);
    }
    return shown;
  }

  function pickBucket(windowSeconds) {
    const wanted = windowSeconds / MAX_POINTS;
    return BUCKETS.find((b) => b >= wanted) || BUCKETS[BUCKETS.length - 1];
  }

  function windowFor(gpu) {
    const seconds = Number($("window").value);
    const anchor = $("anchor").value;
    const now = Date.now();
    const last = Date.parse(gpu.last_seen);
    let end = now;
    let note = "";
    if (anchor === "last" || (anchor === "auto" && now - last > seconds * 1000)) {
      end = last + 1000;
      if (anchor === "auto") note = "no recent data: window ends at the GPU's last datapoint";
    }
    return { start: new Date(end - seconds * 1000), end: new Date(end), seconds, note };
  }

  function destroyCharts() {
    for (const c of state.charts) c.destroy();
    state.charts = [];
    $("charts").innerHTML = "";
  }

  function chart(metric, unit, rows, win) {
    const box = document.createElement("div");
    box.className = "chart";
    box.dataset.metric = metric;
    const h = document.createElement("h3");
    h.textContent = metric + " ";
    const u = document.createElement("span");
    u.className = "unit";
    u.textContent = unit ? "(" + unit + ")" : "";
    h.appendChild(u);
    box.appendChild(h);
    $("charts").appendChild(box);
    const xs = rows.map((r) => Date.parse(r.bucket_start) / 1000);
    const data = [xs, rows.map((r) => r.avg), rows.map((r) => r.min), rows.map((r) => r.max)];
    const width = Math.max(380, box.clientWidth - 16);
    const opts = {
      width,
      height: 200,
      scales: { x: { time: true, range: [win.start / 1000, win.end / 1000] } },
      series: [
        {},
        { label: "avg", stroke: "#2f6fde", width: 2, points: { show: rows.length < 40 } },
        { label: "min", stroke: "#9aa3b5", dash: [4, 4], width: 1 },
        { label: "max", stroke: "#d9534f", dash: [4, 4], width: 1 },
      ],
      axes: [{}, { size: 72 }],
    };
    state.charts.push(new uPlot(opts, data, box));
  }

  async function loadCharts() {
    const gpu = state.selected;
    if (!gpu) return;
    const win = windowFor(gpu);
    const bucket = pickBucket(win.seconds);
    const params = new URLSearchParams({
      start_time: win.start.toISOString(),
      end_time: win.end.toISOString(),
      bucket: bucket + "s",
    });
    setStatus("loading…", "loading");
    const path = "/api/v1/gpus/" + encodeURIComponent(gpu.id) + "/telemetry/summary?" + params;
    let items;
    try {
      items = (await api(path)).items;
    } catch (e) {
      setStatus("error: " + e.message, "error");
      return;
    }
    if (state.selected !== gpu) return; // another GPU was picked meanwhile
    destroyCharts();
    const byMetric = new Map();
    for (const it of items) {
      if (!byMetric.has(it.metric_name)) byMetric.set(it.metric_name, { unit: it.unit, rows: [] });
      byMetric.get(it.metric_name).rows.push(it);
    }
    const metrics = gpu.metric_names.length ? gpu.metric_names : [...byMetric.keys()];
    for (const m of metrics) {
      const entry = byMetric.get(m) || { unit: "", rows: [] };
      chart(m, entry.unit, entry.rows, win);
    }
    state.lastSignature = JSON.stringify(items.map((i) => [i.metric_name, i.bucket_start, i.avg]));
    state.loads++;
    const points = items.reduce((n, i) => n + i.count, 0);
    $("status").dataset.gpu = gpu.id;
    setStatus(
      `${win.start.toISOString()} – ${win.end.toISOString()}, ${bucket}s buckets, ` +
        `${points} datapoints` + (win.note ? " (" + win.note + ")" : ""),
      "loaded",
    );
  }

  function select(gpu) {
    state.selected = gpu;
    $("gpu-title").textContent = `${gpu.hostname} · gpu ${gpu.gpu_index} · ${gpu.model_name}`;
    $("gpu-title").dataset.gpu = gpu.id;
    for (const li of $("gpu-list").children) {
      li.className = li.dataset.gpu === gpu.id ? "selected" : "";
    }
    loadCharts();
  }

  async function start() {
    setStatus("loading GPUs…", "loading");
    try {
      state.gpus = await listAll("/api/v1/gpus?limit=1000");
    } catch (e) {
      setStatus("error: " + e.message, "error");
      return;
    }
    state.gpus.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.gpu_index - b.gpu_index);
    renderHosts();
    const shown = renderList();
    if (shown.length) select(shown[0]);
    else setStatus("no GPUs with telemetry yet", "empty");
  }

  $("host-filter").addEventListener("change", () => {
    const shown = renderList();
    if (shown.length && (!state.selected || !shown.includes(state.selected))) select(shown[0]);
  });
  $("window").addEventListener("change", loadCharts);
  $("anchor").addEventListener("change", loadCharts);
  $("token-save").addEventListener("click", () => {
    state.token = $("token").value;
    sessionStorage.setItem("apigw-token", state.token);
    $("auth").hidden = true;
    start();
  });
  start();
})();
