// Load generator: one Node process holding C clients, driven by JSON lines on stdin.
//
// Clients speak either raw Engine.IO v4 / Socket.IO v5 over a WebSocket ("sio") or plain
// WebSocket ("ws"). A received update is recognised by its `"bench":{"t":<µs>,"seq":<n>}`
// marker, found with Buffer.lastIndexOf: no JSON parsing, no string conversion per frame.
// Every socket reads into one shared buffer, so a read allocates nothing (see READ_BUFFER).
//
// Commands (one JSON object a line):            replies (one JSON object a line on stdout):
//   {"cmd":"connect","url":..,"mode":"sio"|"ws","n":C,"window":W,"deflate":true,"subscribe":".."}
//                                                  {"ev":"connected","ok","failed","secs",...}
//   {"cmd":"expect","m":M,"deadline":S}            (nothing until the phase ends)
//   {"cmd":"pubdone","idle":S}                     {"ev":"done","received","unique",...}
//   {"cmd":"close"}                                {"ev":"closed"}
'use strict';
const WebSocket = require('ws');
const net = require('net');
const readline = require('readline');
const { performance } = require('perf_hooks');

const NS = '/running_logger';
const MARK = Buffer.from('"bench"');
const T = Buffer.from('"t"');
const SEQ = Buffer.from('"seq"');
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

let clients = [];
let raw = 0; // connections read by takeOver()
let phase = null; // {m, seen: Uint8Array(C*m), lat: Float64Array, n, ...}

function cpuSnap() { const u = process.cpuUsage(); return { cpu: (u.user + u.system) / 1e6, wall: performance.now() / 1000 }; }
function cpuSince(s) { const e = cpuSnap(); return { cpu_s: e.cpu - s.cpu, wall_s: e.wall - s.wall, util: (e.cpu - s.cpu) / Math.max(1e-9, e.wall - s.wall) }; }

// Read the unsigned integer after the first ':' at or after `from`; returns [value, end].
function readInt(buf, from) {
  let i = buf.indexOf(58 /* : */, from) + 1, v = 0;
  while (buf[i] === 32) i++;
  for (; i < buf.length; i++) { const c = buf[i] - 48; if (c < 0 || c > 9) break; v = v * 10 + c; }
  return [v, i];
}

function onUpdate(idx, buf, at, end = buf.length) {
  const p = phase;
  if (!p) return;
  // From the end: every publisher adds the marker last, so it sits in the frame's last ~100
  // bytes; a forward search of a 3 KB frame was two thirds of this process's CPU (profiled).
  const k = buf.lastIndexOf(MARK, end - MARK.length);
  if (k < at) { p.other++; return; }
  const [t, e] = readInt(buf, buf.indexOf(T, k + 7)); // "bench": {"t": T, "seq": N}
  const [seq] = readInt(buf, buf.indexOf(SEQ, e));
  const r = nowUs();
  p.n++;
  if (p.n <= p.lat.length) p.lat[p.n - 1] = (r - t) / 1000;
  if (t < p.firstPub) p.firstPub = t;
  p.lastRecv = r; p.lastAt = performance.now();
  if (seq < p.m) {
    const s = idx * p.m + seq; if (p.seen[s]) p.dup++; else { p.seen[s] = 1; p.unique++; }
    const ms = (r - t) / 1000;
    if (!(p.firstMs[seq] <= ms)) p.firstMs[seq] = ms;
    if (!(p.lastMs[seq] >= ms)) p.lastMs[seq] = ms;
  }
  if (p.unique === p.expected) finish('complete');
}

// Every socket reads into this one buffer (Node's `onread` option): a read allocates nothing.
// With a stream read (a new Buffer and its bookkeeping, ~800 bytes of garbage a frame), V8
// paused the generator for a scavenge (0.3-2.3 ms) every ~400 ms of the latency phase, and
// for mark-compacts (4-12 ms, "external memory pressure") through the full-speed phase
// (traced with --trace-gc); the updates those pauses hit were every system's slowest. Now:
// one scavenge in a latency phase, none at full speed.
const READ_BUFFER = Buffer.allocUnsafe(1 << 20);

// ws's createConnection hook: a TCP socket whose reads go to `conn.read(chunk)`. Until
// takeOver() replaces it, that hands ws (and the HTTP client before it) a copy, as a stream
// read would: READ_BUFFER is overwritten by the next read.
function sharedBufferConnection(conn) {
  return (options) => {
    const sock = net.connect({
      ...options,
      path: options.socketPath,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => { conn.read(buf.subarray(0, n)); } },
    });
    conn.read = (chunk) => sock.emit('data', Buffer.from(chunk));
    return sock;
  };
}

// Once a connection is up and no extension (permessage-deflate) was negotiated, read its
// frames straight off the TCP socket: server frames are unmasked, so a frame is a 2-10 byte
// header and a payload we can search in place. This skips ws's stream machinery, which was
// most of the generator's per-message cost. Compressed connections stay on ws's reader.
function takeOver(idx, ws, mode, conn) {
  const sock = ws._socket;
  if (!sock || Object.keys(ws._extensions).length || ws._receiver._bufferedBytes) return false;
  let pending = null;
  conn.read = (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk, off = 0;
    pending = null;
    while (buf.length - off >= 2) {
      const op = buf[off] & 0x0f, fin = buf[off] & 0x80;
      let len = buf[off + 1] & 0x7f, start = off + 2;
      if (len === 126) { if (buf.length - off < 4) break; len = buf.readUInt16BE(off + 2); start = off + 4; }
      else if (len === 127) { if (buf.length - off < 10) break; len = Number(buf.readBigUInt64BE(off + 2)); start = off + 10; }
      const end = start + len;
      if (end > buf.length) break;
      if (op === 1 && fin) {
        if (mode === 'ws') onUpdate(idx, buf, start, end);
        else if (buf[start] === 50 /* ping */) ws.send('3');
        else if (buf[start] === 52 && buf[start + 1] === 50) onUpdate(idx, buf, start + 2, end);
      } else if (op === 9) ws.pong(Buffer.from(buf.subarray(start, end)));
      else if (op === 8) { sock.destroy(); return; }
      else if (phase) phase.other++; // fragmented or binary: not expected from any server here
      off = end;
    }
    if (off < buf.length) pending = Buffer.from(buf.subarray(off)); // the rest of a frame: kept
  };
  return true;
}

function connectOne(idx, o) {
  return new Promise((resolve) => {
    const url = o.mode === 'sio' ? `${o.url}/socket.io/?EIO=4&transport=websocket` : o.url;
    const conn = { read: null };
    const ws = new WebSocket(url, {
      perMessageDeflate: o.deflate !== false, handshakeTimeout: 30000, skipUTF8Validation: true,
      createConnection: sharedBufferConnection(conn),
    });
    let done = false;
    const settle = (ok) => { if (!done) { done = true; resolve(ok); } };
    ws.on('error', () => settle(false));
    ws.on('close', () => { settle(false); if (clients[idx] === ws) clients[idx] = null; });
    ws.on('open', () => {
      if (o.mode === 'ws') {
        if (o.subscribe) ws.send(o.subscribe);
        if (o.raw !== false && takeOver(idx, ws, 'ws', conn)) raw++;
        settle(true);
      }
    });
    ws.on('message', (buf, isBinary) => {
      if (o.mode === 'ws') { onUpdate(idx, buf, 0); return; }
      const c = buf[0];
      if (c === 50 /* 2 ping */) ws.send('3');
      else if (c === 52 /* 4 */ && buf[1] === 50 /* 2 event */) onUpdate(idx, buf, 2);
      else if (c === 48 /* 0 open */) ws.send(`40${NS},`);
      else if (c === 52 && buf[1] === 48 /* 40 connect ack */) {
        if (o.raw !== false && takeOver(idx, ws, 'sio', conn)) raw++;
        settle(true);
      }
      else if (c === 52 && buf[1] === 52 /* 44 connect error */) { settle(false); ws.terminate(); }
    });
    clients[idx] = ws;
  });
}

async function connect(o) {
  const start = performance.now(), snap = cpuSnap();
  const base = clients.length;
  let next = 0, ok = 0, failed = 0;
  async function worker() {
    while (next < o.n) { const i = base + next++; if (await connectOne(i, o)) ok++; else failed++; }
  }
  await Promise.all(Array.from({ length: Math.min(o.window || 100, o.n) }, worker));
  const secs = (performance.now() - start) / 1000;
  out({ ev: 'connected', ok, failed, secs, rate: ok / secs, open: clients.filter(Boolean).length, raw, ...cpuSince(snap) });
}

// V8 runs a function in its interpreter until it has been called enough to compile it, and
// drops the compiled code when it meets an object of another shape. The latency phase's first
// update is the first frame with a marker, so without this its 1,000 recipients waited on an
// uncompiled onUpdate: measured on it, the first 1,000 calls took 4.8-5.4 us each, the next
// 1,000 3.3-5.6, then 0.35. Warm-up and phases share newPhase() for one object shape.
const WARM_UP_CALLS = 20000;
let warm = false;
function warmUp() {
  const frame = Buffer.from(`42["running_logger",{"x":1,"bench":{"t":${Math.round(nowUs())},"seq":0}}]`);
  phase = newPhase(1, 1, Infinity);
  for (let i = 0; i < WARM_UP_CALLS; i++) { phase.seen[0] = 0; onUpdate(0, frame, 2, frame.length); }
  phase = null;
  warm = true;
}

function newPhase(m, C, expected) {
  return {
    m, expected, seen: new Uint8Array(C * m), lat: new Float64Array(Math.min(C * m, 20e6)),
    // Per update: its first and last recipient's latency (where a tail comes from).
    firstMs: new Float64Array(m).fill(NaN), lastMs: new Float64Array(m).fill(NaN),
    n: 0, unique: 0, dup: 0, other: 0, firstPub: Infinity, lastRecv: 0, lastAt: performance.now(),
    snap: cpuSnap(), timer: null, idle: null,
  };
}

function expect(o) {
  if (!warm) warmUp();
  const C = clients.length, open = clients.filter(Boolean).length;
  phase = newPhase(o.m, C, open * o.m);
  phase.timer = setTimeout(() => finish('deadline'), (o.deadline || 120) * 1000);
}

function pubdone(o) {
  const p = phase; if (!p) return;
  p.lastAt = Math.max(p.lastAt, performance.now());
  p.idle = setInterval(() => { if (performance.now() - p.lastAt > (o.idle || 3) * 1000) finish('idle'); }, 100);
}

// Updates up to this many get a per-update breakdown in 'done' (the latency phase's 60 do).
const PER_UPDATE_MAX = 200;
function round2(xs) { return Array.from(xs, (x) => (Number.isNaN(x) ? null : Math.round(x * 100) / 100)); }

function pct(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null; }

function finish(why) {
  const p = phase; if (!p) return;
  phase = null; clearTimeout(p.timer); clearInterval(p.idle);
  const lat = p.lat.subarray(0, Math.min(p.n, p.lat.length)).sort();
  // Tell lost broadcasts (an update nobody got) from per-client drops, and count clients
  // whose last update never came (a conflating server may skip updates, never the last).
  let nobody = 0, missedLast = 0;
  const C = p.seen.length / p.m;
  for (let q = 0; q < p.m; q++) { let any = 0; for (let i = 0; i < C && !any; i++) any = p.seen[i * p.m + q]; if (!any) nobody++; }
  for (let i = 0; i < C; i++) if (clients[i] && !p.seen[i * p.m + p.m - 1]) missedLast++;
  out({
    ev: 'done', why, expected: p.expected, updates_nobody_got: nobody, clients_missing_last: missedLast, received: p.n, unique: p.unique, dup: p.dup, other: p.other,
    first_pub_us: p.firstPub === Infinity ? null : p.firstPub, last_recv_us: p.lastRecv || null,
    p50_ms: pct(lat, 0.5), p95_ms: pct(lat, 0.95), p99_ms: pct(lat, 0.99), max_ms: lat.length ? lat[lat.length - 1] : null,
    open: clients.filter(Boolean).length, ...cpuSince(p.snap),
    ...(p.m <= PER_UPDATE_MAX ? { per_update: { first_ms: round2(p.firstMs), last_ms: round2(p.lastMs) } } : {}),
  });
}

function close() {
  for (const ws of clients) if (ws) ws.terminate();
  clients = []; raw = 0;
  setTimeout(() => out({ ev: 'closed' }), 200);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const o = JSON.parse(line);
  if (o.cmd === 'connect') connect(o);
  else if (o.cmd === 'expect') expect(o);
  else if (o.cmd === 'pubdone') pubdone(o);
  else if (o.cmd === 'close') close();
  else if (o.cmd === 'time') out({ ev: 'time', now_us: nowUs() });
});
rl.on('close', () => process.exit(0));
