// Publisher of peer 4: @socket.io/redis-emitter from its own process.
// Usage: node publish.js REDIS_URL PAYLOAD_JSON COUNT RATE   (RATE 0: as fast as possible)
'use strict';
const fs = require('fs');
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');
const { performance } = require('perf_hooks');

const [redisUrl, payloadPath] = process.argv.slice(2, 4);
const [count, rate] = process.argv.slice(4, 6).map(Number);
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const LINGER_MS = 500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const payload = JSON.parse(fs.readFileSync(payloadPath, 'utf8'));
  const client = createClient({ url: redisUrl });
  await client.connect();
  const ns = new Emitter(client).of('/running_logger');
  const start = performance.now();
  for (let seq = 0; seq < count; seq++) {
    if (rate > 0) { const wait = start + (seq * 1000) / rate - performance.now(); if (wait > 0) await sleep(wait); }
    payload.message.bench = { t: nowUs(), seq };
    ns.emit('running_logger', payload);
    if (rate === 0 && seq % 50 === 49) await client.ping(); // let writes drain, like an awaited publish
  }
  await client.ping();
  const u = process.cpuUsage();
  console.log(JSON.stringify({ sent: count, secs: (performance.now() - start) / 1000, cpu_s: (u.user + u.system) / 1e6 }));
  if (rate > 0) await sleep(LINGER_MS); // see LINGER in bench/peers/pubcommon.py
  await client.quit();
}
main().catch((e) => { console.error(e); process.exit(1); });
