/* Draws a run's graph snapshot (LogicFlow nodes and edges) as SVG, and derives a run's status
 * from its node statuses. Shared by the run monitor and the admin; no framework. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  // Used only when a node carries no properties.style (the runner always sets one).
  const FALLBACK = { stroke: "#8c8c8c", fill: "#ffffff" };
  const PAD = 60;

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.append(node);
    return node;
  }

  function labelOf(node) {
    const text = node.text;
    if (text && typeof text === "object") return String(text.value || node.id);
    return String(text || node.id);
  }

  function shapeOf(node) {
    const type = String(node.type || "");
    if (type.endsWith("Event") || type === "circle") return "circle";
    if (type.endsWith("Gateway") || type === "diamond") return "diamond";
    return "rect";
  }

  // Where a line from the centre of `from` towards `node` meets the border of `node`'s shape,
  // so the arrow head is not hidden under the node.
  function border(node, from) {
    const x = Number(node.x) || 0, y = Number(node.y) || 0;
    const dx = x - (Number(from.x) || 0), dy = y - (Number(from.y) || 0);
    const length = Math.hypot(dx, dy) || 1;
    let reach = 28;
    if (shapeOf(node) === "rect") {
      reach = Math.min(dx ? 57 / Math.abs(dx) : Infinity, dy ? 28 / Math.abs(dy) : Infinity) * length;
    }
    return [x - (dx / length) * reach, y - (dy / length) * reach];
  }

  function viewBox(nodes) {
    if (!nodes.length) return "0 0 400 120";
    const xs = nodes.map((n) => Number(n.x) || 0);
    const ys = nodes.map((n) => Number(n.y) || 0);
    const minX = Math.min(...xs) - PAD, minY = Math.min(...ys) - PAD;
    const width = Math.max(...xs) - minX + PAD, height = Math.max(...ys) - minY + PAD;
    return `${minX} ${minY} ${width} ${height}`;
  }

  function drawNode(group, node) {
    const props = node.properties || {};
    const style = props.style || FALLBACK;
    const x = Number(node.x) || 0, y = Number(node.y) || 0;
    const g = el("g", {
      class: `node node-${props.status || "pending"}`,
      "data-node": node.id,
      "data-status": props.status || "pending",
    }, group);
    const paint = { fill: style.fill, stroke: style.stroke, "stroke-width": 2 };
    const shape = shapeOf(node);
    if (shape === "circle") el("circle", { cx: x, cy: y, r: 22, ...paint }, g);
    else if (shape === "diamond") {
      el("polygon", { points: `${x},${y - 26} ${x + 26},${y} ${x},${y + 26} ${x - 26},${y}`, ...paint }, g);
    } else el("rect", { x: x - 55, y: y - 26, width: 110, height: 52, rx: 8, ...paint }, g);
    const below = shape === "rect" ? 4 : 42;
    const label = el("text", { x, y: y + below, "text-anchor": "middle", class: "node-label" }, g);
    label.textContent = labelOf(node);
    const title = el("title", {}, g);
    title.textContent = `${labelOf(node)}: ${props.status || "pending"}`;
  }

  /** Replace the content of `svg` with `graph`; edges in `runningEdges` are highlighted. */
  function draw(svg, graph, runningEdges) {
    const nodes = (graph && graph.nodes) || [], edges = (graph && graph.edges) || [];
    const running = new Set(runningEdges || []);
    svg.replaceChildren();
    svg.setAttribute("viewBox", viewBox(nodes));
    const defs = el("defs", {}, svg);
    const marker = el("marker", {
      id: `${svg.id || "g"}-arrow`, viewBox: "0 0 10 10", refX: 10, refY: 5,
      // In user units: a thick running edge must not get a giant arrow head.
      markerUnits: "userSpaceOnUse", markerWidth: 12, markerHeight: 12, orient: "auto-start-reverse",
    }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c8c8c" }, marker);
    const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
    const edgeLayer = el("g", { class: "edges" }, svg);
    for (const edge of edges) {
      const a = byId[edge.sourceNodeId], b = byId[edge.targetNodeId];
      if (!a || !b) continue;
      const [x1, y1] = border(a, b), [x2, y2] = border(b, a);
      el("line", {
        x1, y1, x2, y2,
        class: running.has(edge.id) ? "edge running" : "edge",
        "data-edge": edge.id,
        "marker-end": `url(#${svg.id || "g"}-arrow)`,
      }, edgeLayer);
    }
    const nodeLayer = el("g", { class: "nodes" }, svg);
    for (const node of nodes) drawNode(nodeLayer, node);
  }

  /** The run status the node statuses imply, or null when the graph says nothing yet. */
  function statusOf(graph) {
    const statuses = ((graph && graph.nodes) || []).map((n) => (n.properties || {}).status || "pending");
    if (!statuses.length) return null;
    if (statuses.includes("failure")) return "failure";
    if (statuses.includes("stopped")) return "stopped";
    if (statuses.includes("paused")) return "paused";
    if (statuses.every((s) => s === "success" || s === "skipped")) return "success";
    return "running";
  }

  /** A WebSocket URL on this page's host. */
  function wsUrl(path) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${path}`;
  }

  window.OrderlinesGraph = { draw, statusOf, wsUrl };
})();
