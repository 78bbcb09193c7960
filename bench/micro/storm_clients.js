// N socket.io WebSocket clients for bench/micro/storm.py: connect them all to /running_logger,
// print "ready", then wait to be killed (every socket closes at once).
const WebSocket = require("../node/node_modules/ws");
const [port, total] = process.argv.slice(2).map(Number);
const url = `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
let started = 0, ready = 0;
const sockets = [];

function open() {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  sockets.push(ws);
  ws.on("message", (data) => {
    const text = data.toString();
    if (text[0] === "0") ws.send("40/running_logger,");
    else if (text.startsWith("40/running_logger,{")) {
      if (++ready === total) console.log("ready");
      if (started < total) open(); // keep 100 handshakes in flight
      started += started < total ? 1 : 0;
    } else if (text === "2") ws.send("3");
  });
  ws.on("error", (err) => { console.error(err.message); process.exit(1); });
}
for (; started < Math.min(100, total); started++) open();
