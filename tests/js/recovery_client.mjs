// socket.io-client as the front end uses it, through a proxy whose server dies mid-run.
// Env: BASE, INSTANCE_ID, COUNT. Prints "ready", "reconnected" (with recovered) and a summary;
// exits 0 once it has seen updates n = 1..COUNT.
import { io } from "socket.io-client";

const { BASE, INSTANCE_ID } = process.env;
const COUNT = Number(process.env.COUNT);
const say = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));
const received = [];
let recovered = null;

const socket = io(`${BASE}/running_logger`, { path: "/socket.io", reconnectionDelay: 200,
                                             reconnectionDelayMax: 500 });
socket.on("connect", () => {
  if (received.length || recovered !== null) {
    recovered = socket.recovered;
    say("reconnected", { recovered, after: received.length });
  } else {
    recovered = false;
    say("ready");
  }
});
socket.on("running_logger", (payload) => {
  if (payload.process_instance_id !== INSTANCE_ID || payload.topic !== "running_logger") return;
  if (typeof payload.message.n !== "number") return; // the state snapshot, not an update
  received.push(payload.message.n);
  if (payload.message.n === 10) say("progress", { n: 10 });
  if (payload.message.n === COUNT) {
    say("summary", { received, recovered });
    process.exit(0);
  }
});
setTimeout(() => { say("summary", { received, recovered, timeout: true }); process.exit(1); },
           Number(process.env.TIMEOUT_MS || 40000));
