// Connects exactly as the orderlines front end does and validates every field it reads.
// Env: BASE (http://127.0.0.1:PORT), INSTANCE_ID, PROCESS_ID, TIMEOUT_MS.
// Prints one JSON line per step; "ready" once both namespaces are connected over websocket.
// Exits 0 when it has seen, valid: a running_logger update, a debug_message with a sign,
// the snapshot answer to its own "process start", and a uia answer for PROCESS_ID.
import { io } from "socket.io-client";
import readline from "node:readline";

const { BASE, INSTANCE_ID, PROCESS_ID } = process.env;
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 20000);
const say = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));
const fail = (why) => { say("fail", { why }); process.exit(1); };
const check = (condition, why) => { if (!condition) fail(why); };

function validUpdate(payload) {
  check(payload.topic === "running_logger", `topic ${payload.topic}`);
  const m = payload.message;
  check(Array.isArray(m.running_edge), "message.running_edge is not an array");
  check(typeof m.task_progress === "number" && m.task_progress >= 0 && m.task_progress <= 100,
    "message.task_progress is not a number in 0..100");
  check(Array.isArray(m.graph_data.graphData.nodes), "message.graph_data.graphData.nodes");
  check(Array.isArray(m.graph_data.graphData.edges), "message.graph_data.graphData.edges");
}

const seen = { update: false, debug_sign: false, snapshot: false, uia: false };
let startedProcess = false;
const done = () => Object.values(seen).every(Boolean);
const finishIfDone = () => { if (done()) { say("done", seen); process.exit(0); } };

// The front end: io(`${API_URL}/${namespace}`, { path: "/socket.io" }), default transports.
const logger = io(`${BASE}/running_logger`, { path: "/socket.io" });
const uia = io(`${BASE}/uia`, { path: "/socket.io" });

logger.on("running_logger", (payload) => {
  if (payload.process_instance_id !== INSTANCE_ID) return; // the front end drops other instances
  if (payload.topic === "debug_message") {
    check(typeof payload.message.task_name === "string", "debug_message.message.task_name");
    if (typeof payload.message.sign === "string") seen.debug_sign = true;
  } else {
    validUpdate(payload);
    if (startedProcess && payload.message.task_progress === 7) seen.snapshot = true;
    else seen.update = true;
  }
  say("running_logger", { topic: payload.topic, progress: payload.message.task_progress });
  finishIfDone();
});

uia.on("uia", (payload) => {
  if (payload.process_id !== PROCESS_ID) return;
  check(payload.topic === "uia", "uia topic");
  check(typeof payload.message === "object" && payload.message !== null, "uia message object");
  seen.uia = true;
  say("uia", { window_title: payload.message.window_title });
  finishIfDone();
});

const upgraded = (socket) => new Promise((resolve) => {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return resolve();
  engine.once("upgrade", () => resolve());
});
const connected = (socket) => new Promise((resolve) => socket.once("connect", resolve));

await Promise.all([connected(logger), connected(uia)]);
say("connected", { transport: logger.io.engine.transport.name });
await Promise.all([upgraded(logger), upgraded(uia)]);
say("ready", { transport: logger.io.engine.transport.name, uia: uia.io.engine.transport.name });

// Commands from the test on stdin: "process start" makes the client emit as the front end does.
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "process start") {
    startedProcess = true;
    logger.emit("running_logger",
      { topic: "running_logger", msg: "process start", process_instance_id: INSTANCE_ID });
  }
});
setTimeout(() => fail(`timed out; seen ${JSON.stringify(seen)}`), TIMEOUT_MS);
