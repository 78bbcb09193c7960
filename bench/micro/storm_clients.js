// N clients for bench/micro/storm.py, socket.io ("sio") or plain WebSocket ("ws"), all on the
// running_logger route: connect them, print "ready", then wait to be killed (all close at once).
const WebSocket = require("../node/node_modules/ws");
const [port, total] = process.argv.slice(2, 4).map(Number);
const sio = process.argv[4] !== "ws";
const url = sio
  ? `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`
  : `ws://127.0.0.1:${port}/ws/running_logger/`;
let started = 0, ready = 0;
const sockets = [];

function connected() {
  if (++ready === total) console.log("ready");
  if (started < total) { started++; open(); } // keep 100 handshakes in flight
}

function open() {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  sockets.push(ws);
  if (!sio) ws.on("open", connected);
  ws.on("message", (data) => {
    if (!sio) return;
    const text = data.toString();
    if (text[0] === "0") ws.send("40/running_logger,");
    else if (text.startsWith("40/running_logger,{")) connected();
    else if (text === "2") ws.send("3");
  });
  ws.on("error", (err) => { console.error(err.message); process.exit(1); });
}
for (; started < Math.min(100, total); started++) open();
