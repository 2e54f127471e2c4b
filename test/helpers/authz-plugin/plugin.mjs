#!/usr/bin/env node
// A test Docker AuthZ plugin (legacy v1 protocol over a unix socket).
//
//   node test/helpers/authz-plugin/plugin.mjs --socket PATH [--log FILE]
//        [--deny-privileged] [--deny-bind-prefix /etc]... [--deny-all MSG (requests and responses)]
//        [--deny-responses MSG (AuthZRes only)]
//        [--hang] [--garbage] [--fail MSG] [--no-authz]
//
// It decides by PLAIN STRING comparison on the JSON it is sent, as a naive plugin would:
// it denies creates whose body.HostConfig.Privileged === true (and execs whose
// body.Privileged === true), and binds whose source string starts with a denied prefix. So a
// bypass (case-variant keys, //etc, /tmp/../etc, %63reate ...) gets past it unless the daemon
// canonicalizes the request first - which is what end-to-end bypass tests check.
//
// Every call is logged to --log as one JSON line: {seq, time, call, request, body, reply}.
// Also importable: `startPlugin(options)` returns { calls, setMode(), close() }.
import http from 'node:http';
import { appendFileSync, unlinkSync, lstatSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// One counter for every plugin in this process, so tests can check the order of calls
// across plugins (chain order).
let SEQ = 0;

function decodeBody(b64) {
  if (typeof b64 !== 'string' || b64 === '') return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function decide(mode, wire, body) {
  if (mode.denyAll !== undefined) return { Allow: false, Msg: mode.denyAll };
  const uri = String(wire.RequestUri ?? '');
  const path = uri.split('?')[0];
  const isCreate = /^\/(v[0-9.]+\/)?containers\/create$/.test(path);
  const isExec = /^\/(v[0-9.]+\/)?containers\/[^/]+\/exec$/.test(path);
  if (mode.denyPrivileged && isCreate && body && body.HostConfig && body.HostConfig.Privileged === true) {
    return { Allow: false, Msg: 'privileged containers are not allowed' };
  }
  if (mode.denyPrivileged && isExec && body && body.Privileged === true) {
    return { Allow: false, Msg: 'privileged exec is not allowed' };
  }
  if (isCreate && body && body.HostConfig && mode.denyBindPrefixes.length > 0) {
    const sources = [];
    for (const b of Array.isArray(body.HostConfig.Binds) ? body.HostConfig.Binds : []) sources.push(String(b).split(':')[0]);
    for (const m of Array.isArray(body.HostConfig.Mounts) ? body.HostConfig.Mounts : []) if (m && typeof m.Source === 'string') sources.push(m.Source);
    for (const src of sources) {
      for (const prefix of mode.denyBindPrefixes) {
        if (src.startsWith(prefix)) return { Allow: false, Msg: `bind mount of ${src} is not allowed` };
      }
    }
  }
  return { Allow: true };
}

/**
 * Start the plugin. options: { socket, log?, denyPrivileged?, denyBindPrefixes?, denyAll?, denyResponses?,
 * hang?, garbage?, fail?, noAuthz? }.
 */
export async function startPlugin(options) {
  const mode = {
    denyPrivileged: false,
    denyBindPrefixes: [],
    denyAll: undefined,
    denyResponses: undefined,
    hang: false,
    garbage: false,
    fail: undefined,
    noAuthz: false,
    ...options,
  };
  const calls = [];
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let wire = null;
      try {
        wire = raw === '' ? null : JSON.parse(raw);
      } catch {
        wire = raw;
      }
      const entry = {
        seq: ++SEQ,
        time: new Date().toISOString(),
        call: req.url,
        headers: { accept: req.headers.accept, 'content-type': req.headers['content-type'], host: req.headers.host },
        request: wire,
        body: wire && typeof wire === 'object' ? decodeBody(wire.RequestBody) : undefined,
        reply: undefined,
      };
      calls.push(entry);
      const send = (status, text) => {
        entry.reply = { status, text };
        if (mode.log) appendFileSync(mode.log, JSON.stringify(entry) + '\n');
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(text);
      };
      if (req.url === '/Plugin.Activate') {
        return send(200, JSON.stringify({ Implements: mode.noAuthz ? ['VolumeDriver'] : ['authz'] }));
      }
      if (mode.hang) {
        hanging.add(res);
        if (mode.log) appendFileSync(mode.log, JSON.stringify({ ...entry, reply: 'hang' }) + '\n');
        return;
      }
      if (mode.garbage) return send(200, 'hello, not json');
      if (mode.fail !== undefined) return send(500, JSON.stringify({ Err: mode.fail }));
      if (req.url === '/AuthZPlugin.AuthZReq') return send(200, JSON.stringify(decide(mode, wire ?? {}, entry.body)));
      if (req.url === '/AuthZPlugin.AuthZRes') {
        const msg = mode.denyAll ?? mode.denyResponses;
        return send(200, JSON.stringify(msg !== undefined ? { Allow: false, Msg: msg } : { Allow: true }));
      }
      return send(404, JSON.stringify({ Err: `unknown call ${req.url}` }));
    });
  });
  try {
    if (lstatSync(mode.socket).isSocket()) unlinkSync(mode.socket);
  } catch {
    // nothing there
  }
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(mode.socket, resolve);
  });
  return {
    socket: mode.socket,
    calls,
    /** Change behaviour while running, e.g. setMode({ hang: true }). */
    setMode(patch) {
      Object.assign(mode, patch);
    },
    async close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function parseArgs(argv) {
  const o = { denyBindPrefixes: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--socket': o.socket = next(); break;
      case '--log': o.log = next(); break;
      case '--deny-privileged': o.denyPrivileged = true; break;
      case '--deny-bind-prefix': o.denyBindPrefixes.push(next()); break;
      case '--deny-all': o.denyAll = next(); break;
      case '--deny-responses': o.denyResponses = next(); break;
      case '--hang': o.hang = true; break;
      case '--garbage': o.garbage = true; break;
      case '--fail': o.fail = next(); break;
      case '--no-authz': o.noAuthz = true; break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!o.socket) throw new Error('--socket PATH is required');
  return o;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const opts = parseArgs(process.argv.slice(2));
  const plugin = await startPlugin(opts);
  process.stdout.write(`listening ${plugin.socket}\n`);
  const stop = () => {
    plugin.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
