// Peer 4: Node.js socket.io v4 with the Redis adapter. Usage: node server.js PORT REDIS_URL
'use strict';
const { createServer } = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const [port, redisUrl] = [Number(process.argv[2]), process.argv[3]];

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
  io.of('/running_logger').on('connection', (socket) => {
    socket.on('running_logger', () => {}); // the client contract's inbound event; unused here
  });
  httpServer.listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
}
main().catch((e) => { console.error(e); process.exit(1); });
