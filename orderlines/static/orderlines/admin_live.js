/* The admin, live: follows /ws/running_logger/ and updates status badges, progress bars,
 * the run graph and the running log of the instances on the page. No framework. */
(function () {
  "use strict";
  const G = window.OrderlinesGraph;
  const LABELS = { pending: "Pending", running: "Running", paused: "Paused",
    success: "Success", failure: "Failure", stopped: "Stopped" };

  function setProgress(box, value) {
    const fill = box.querySelector(".run-progress-fill");
    fill.style.width = `${value}%`;
    fill.classList.toggle("done", value >= 100);
    box.querySelector(".run-progress-text").textContent = `${value}%`;
    box.dataset.progress = String(value);
  }

  function setStatus(badge, status) {
    if (!status || badge.dataset.status === status) return;
    badge.className = `run-badge status-${status}`;
    badge.dataset.status = status;
    badge.textContent = LABELS[status] || status;
  }

  // The same one-line summary as orderlines.admin_live.log_summary.
  function summary(data) {
    const m = data.message || {};
    if (data.topic === "running_logger") {
      return `progress ${m.task_progress}%, running edges ${(m.running_edge || []).join(", ") || "-"}`;
    }
    if (data.topic === "debug_message") return String(m.text || m.status || "debug message");
    return String(m.msg || data.topic);
  }

  // The highest seq shown in the log: rows are never shown twice, and a reconnect asks the
  // server (?last_seq=) for exactly what came after it.
  let lastSeq = null;

  function logRow(data) {
    const body = document.querySelector("#live-log tbody");
    if (!body) return;
    if (typeof data.seq === "number") {
      if (lastSeq !== null && data.seq <= lastSeq) return;
      lastSeq = data.seq;
    }
    const row = document.createElement("tr");
    row.className = "fresh";
    const payload = { topic: data.topic, process_instance_id: data.process_instance_id, message: data.message };
    for (const text of [data.seq ?? "", data.topic, new Date().toISOString()]) {
      row.append(Object.assign(document.createElement("td"), { textContent: text }));
    }
    const pre = Object.assign(document.createElement("pre"), {
      textContent: JSON.stringify(payload, null, 2),
    });
    pre.style.cssText = "white-space: pre-wrap; margin: 0";
    const details = document.createElement("details");
    details.append(Object.assign(document.createElement("summary"), { textContent: summary(data) }), pre);
    const cell = document.createElement("td");
    cell.append(details);
    row.append(cell);
    body.prepend(row);
  }

  function apply(data) {
    const id = data.process_instance_id;
    if (!id) return;
    if (data.topic === "running_logger") {
      const message = data.message || {};
      const graph = (message.graph_data || {}).graphData;
      const status = G.statusOf(graph);
      for (const box of document.querySelectorAll(`.run-progress[data-instance="${CSS.escape(id)}"]`)) {
        setProgress(box, Number(message.task_progress) || 0);
      }
      for (const badge of document.querySelectorAll(`.run-badge[data-instance="${CSS.escape(id)}"]`)) {
        setStatus(badge, status);
      }
      for (const code of document.querySelectorAll(`.run-edges[data-instance="${CSS.escape(id)}"]`)) {
        code.textContent = (message.running_edge || []).join(", ") || "-";
      }
      const svg = document.querySelector(`svg.run-graph[data-instance="${CSS.escape(id)}"]`);
      if (svg && graph) G.draw(svg, graph, message.running_edge);
    }
    if (document.querySelector(`#live-log[data-instance="${CSS.escape(id)}"]`)) logRow(data);
  }

  function connect(path, delay) {
    const resume = lastSeq !== null && path.includes("?") ? `&last_seq=${lastSeq}` : "";
    const ws = new WebSocket(G.wsUrl(path + resume));
    ws.onopen = () => { delay = 500; document.body.dataset.live = "connected"; };
    ws.onmessage = (event) => {
      try { apply(JSON.parse(event.data)); } catch (err) { console.error("live update", err); }
    };
    // Reconnect with a capped back-off: a restarted server must not leave the page frozen.
    ws.onclose = () => {
      document.body.dataset.live = "disconnected";
      setTimeout(() => connect(path, Math.min(delay * 2, 10000)), delay);
    };
  }

  function start() {
    const single = document.querySelector("svg.run-graph[data-instance]");
    if (single) {
      const snapshot = document.getElementById("run-graph-data");
      if (snapshot) {
        const state = JSON.parse(snapshot.textContent);
        G.draw(single, state.graph_data.graphData, state.running_edge);
      }
    }
    const log = document.getElementById("live-log");
    if (log && log.dataset.lastSeq) lastSeq = Number(log.dataset.lastSeq);
    const watched = document.querySelectorAll("[data-instance]");
    if (!watched.length) return;
    // The change page follows one instance; the list follows every run and picks its rows.
    const path = single
      ? `/ws/running_logger/?process_instance_id=${encodeURIComponent(single.dataset.instance)}`
      : "/ws/running_logger/";
    connect(path, 500);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
