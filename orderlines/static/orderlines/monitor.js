/* The run monitor: starts the demo and follows one run over socket.io, connecting exactly as
 * the Vue front end does (PROTOCOL.md): io("/running_logger", {path: "/socket.io"}), the
 * snapshot from /graph/graph_instance first, then "process start" and the live events. */
(function () {
  "use strict";
  const G = window.OrderlinesGraph;
  const $ = (id) => document.getElementById(id);
  const LABELS = { pending: "Pending", running: "Running", paused: "Paused",
    success: "Success", failure: "Failure", stopped: "Stopped" };
  const state = { current: null, mode: "normal", seen: new Set() };

  function toast(text, isError) {
    const box = $("toast");
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  function setBadge(badge, status) {
    if (!status) return;
    badge.className = `run-badge status-${status}`;
    badge.dataset.status = status;
    badge.textContent = LABELS[status] || status;
  }

  function render(message) {
    const graph = (message.graph_data || {}).graphData || { nodes: [], edges: [] };
    const progress = Number(message.task_progress) || 0;
    $("progress-value").textContent = String(progress);
    $("progress-fill").style.width = `${progress}%`;
    $("progress-fill").classList.toggle("done", progress >= 100);
    $("running-edges").textContent = (message.running_edge || []).join(", ") || "-";
    G.draw($("graph"), graph, message.running_edge);
    const status = G.statusOf(graph);
    setBadge($("run-status"), status);
    document.body.dataset.runStatus = status || "";
    $("debug-continue").disabled = status !== "paused";
    $("debug-stop").disabled = status !== "paused" && status !== "running";
  }

  // Badges of the recent-runs list move too: the socket follows every run of the route.
  function updateRecent(id, message) {
    const status = G.statusOf((message.graph_data || {}).graphData);
    const badge = document.querySelector(`#recent .run-badge[data-instance="${CSS.escape(id)}"]`);
    if (badge) setBadge(badge, status);
  }

  function addRecent(id, mode) {
    const list = $("recent");
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.dataset.instance = id;
    item.dataset.mode = mode;
    const link = Object.assign(document.createElement("a"), { href: `?instance=${encodeURIComponent(id)}`, textContent: id });
    const badge = Object.assign(document.createElement("span"), { className: "run-badge status-pending", textContent: "Pending" });
    badge.dataset.instance = id;
    item.append(link, " ", badge, Object.assign(document.createElement("small"), { textContent: `demo · ${mode}` }));
    list.prepend(item);
  }

  function debugMessage(message) {
    // The front end de-duplicates by deep equality; JSON text is equal for equal messages here.
    const key = JSON.stringify(message);
    if (state.seen.has(key)) return;
    state.seen.add(key);
    $("debug").hidden = false;
    const item = document.createElement("li");
    item.textContent = `${message.task_name || ""}: ${message.text || message.status || key}`;
    $("debug-messages").prepend(item);
    if (message.sign) toast(message.sign);
  }

  async function follow(id, mode) {
    state.current = id;
    state.mode = mode || "normal";
    state.seen.clear();
    $("debug-messages").replaceChildren();
    $("debug").hidden = state.mode !== "debug";
    $("run").hidden = false;
    $("placeholder").hidden = true;
    $("instance-id").textContent = id;
    $("run-mode").textContent = state.mode === "debug" ? "debug mode" : "";
    for (const item of document.querySelectorAll("#recent li")) {
      item.classList.toggle("current", item.dataset.instance === id);
    }
    const response = await fetch(`/graph/graph_instance?process_instance_id=${encodeURIComponent(id)}`);
    const body = await response.json();
    if (body.code === 200 && state.current === id) render(body.data);
    else if (body.code !== 200) toast(body.message, true);
    // As the front end does right after the REST call: the server answers with the state.
    socket.emit("running_logger", { topic: "running_logger", msg: "process start", process_instance_id: id });
  }

  async function startDemo(event) {
    event.preventDefault();
    const form = $("start-form");
    const data = new FormData(form);
    if (document.body.dataset.stepDelay) data.set("step_delay", document.body.dataset.stepDelay);
    const response = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
    const body = await response.json();
    if (body.code !== 200) { toast(body.message, true); return; }
    const id = body.data.process_instance_id;
    addRecent(id, body.data.mode);
    history.replaceState(null, "", `?instance=${encodeURIComponent(id)}`);
    await follow(id, body.data.mode);
  }

  function sign(msg) {
    if (!state.current) return;
    socket.emit("running_logger", { topic: "debug_sign", msg, process_instance_id: state.current });
  }

  if (typeof io !== "function") {
    toast("socket.io-client is not installed: run `npm ci` in the project root.", true);
    return;
  }
  const socket = io("/running_logger", { path: "/socket.io" });
  let connectedBefore = false;
  socket.on("connect", () => {
    $("connection").dataset.state = "connected";
    $("connection").textContent = "live";
    // After a reconnect, catch up with the state we missed while disconnected.
    if (connectedBefore && state.current) follow(state.current, state.mode);
    connectedBefore = true;
  });
  socket.on("disconnect", () => {
    $("connection").dataset.state = "disconnected";
    $("connection").textContent = "disconnected";
  });
  socket.on("running_logger", (data) => {
    if (data.topic === "error") { toast(`${data.message.code}: ${data.message.detail}`, true); return; }
    if (data.topic === "running_logger") updateRecent(data.process_instance_id, data.message);
    if (data.process_instance_id !== state.current) return;
    if (data.topic === "running_logger") render(data.message);
    else if (data.topic === "debug_message") debugMessage(data.message);
  });

  $("start-form").addEventListener("submit", startDemo);
  $("debug-continue").addEventListener("click", () => sign("debug continue"));
  $("debug-stop").addEventListener("click", () => sign("debug stop"));
  const selected = document.body.dataset.selected;
  if (selected) {
    const item = document.querySelector(`#recent li[data-instance="${CSS.escape(selected)}"]`);
    follow(selected, item ? item.dataset.mode : "normal");
  }
})();
