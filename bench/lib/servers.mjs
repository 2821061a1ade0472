// Starting, probing and stopping the registries under test.
// Everything listens on 127.0.0.1 and lives in /tmp/cairn-bench-* temp dirs.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

const REFERENCE_BIN = '/usr/bin/docker-registry';
const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const started = new Set();

function tempDir(label) {
  return mkdtempSync(`/tmp/cairn-bench-${label}-`);
}

/** Installs Debian's docker-registry (CNCF distribution 2.8) on first use. */
function ensureReferenceInstalled() {
  if (existsSync(REFERENCE_BIN)) return;
  console.error('installing docker-registry (Debian package)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', 'docker-registry'], { stdio: 'inherit', env });
}

// Own config rather than /etc/docker/registry: no htpasswd auth, no access log,
// storage in our temp dir. The in-memory blob descriptor cache matches the
// packaged default and typical deployments.
function referenceConfig(dataDir, port) {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dataDir}
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
`;
}

/** Polls GET /v2/ until it answers 200 (or 401), the child exits, or time runs out. */
// Generous: Cairn's embedded PGlite takes seconds to initialise on a busy box.
async function waitReady(url, child, logFile, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await request(new URL('/v2/', url), { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) return;
      last = `GET /v2/ answered ${res.statusCode}`;
    } catch (err) {
      last = err.code ?? err.message; // not listening yet
    }
    // Short polls: the reference answers within tens of milliseconds, and the first answer is
    // what the start-up rows measure. A refused connection costs next to nothing.
    await sleep(10);
  }
  throw new Error(`${url} not ready (${last}; exit code ${child.exitCode}); log tail:\n${logTail(logFile)}`);
}

/** The last few log lines, each cut short: stack traces in JSON logs run long. */
function logTail(logFile, lines = 5) {
  return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => l.slice(0, 400)).join('\n');
}

/** Refuses a busy port: readiness polling would otherwise bench whatever already listens there. */
async function assertPortFree(port) {
  const busy = await new Promise((res) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer) => {
      socket.destroy();
      res(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
  if (busy) throw new Error(`127.0.0.1:${port} is already in use`);
}

async function startServer({ label, port, command, args, cwd, env, writeFiles }) {
  await assertPortFree(port);
  const dir = tempDir(label);
  const files = writeFiles?.(dir) ?? {};
  const server = { label, url: `http://127.0.0.1:${port}`, dir, logFile: join(dir, 'server.log'), spawnArgs: [command, args(dir, files), { cwd, env }] };
  started.add(server);
  try {
    server.firstStart = await launch(server);
  } catch (err) {
    await stopServer(server);
    throw err;
  }
  return server;
}

/**
 * Spawns the server and waits for its first `GET /v2/` answer: wall seconds from spawn, and the
 * CPU seconds it had used by then (the figure to trust when other work shares the cores).
 */
async function launch(server) {
  const [command, args, { cwd, env }] = server.spawnArgs;
  const out = openSync(server.logFile, 'a');
  const t0 = performance.now();
  server.child = spawn(command, args, { cwd, env, stdio: ['ignore', out, out] });
  closeSync(out); // the child holds its own copy
  await waitReady(server.url, server.child, server.logFile);
  return { wallSeconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds(server) };
}

/**
 * Stops a started server with SIGTERM and starts it again on the same data: the restart figure.
 * Undefined for a registry the harness did not start.
 */
export async function restartServer(server) {
  if (!server.child) return undefined;
  await terminate(server.child);
  return launch(server);
}

/**
 * Resident memory of a started server, in MiB, from /proc/<pid>/status: `rss` now, and `peak`
 * (VmHWM, the high-water mark since it started). Undefined for an external registry.
 */
export function memoryMiB(server) {
  if (!server.child) return undefined;
  try {
    const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
    const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

export function startReference(port) {
  ensureReferenceInstalled();
  return startServer({
    label: 'reference',
    port,
    command: REFERENCE_BIN,
    writeFiles: (dir) => {
      const config = join(dir, 'config.yml');
      writeFileSync(config, referenceConfig(join(dir, 'data'), port));
      return { config };
    },
    args: (_dir, { config }) => ['serve', config],
  });
}

export function startCairn(port) {
  const entry = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} missing: run \`npm run build\` first`);
  return startServer({
    label: 'cairn',
    port,
    command: process.execPath,
    cwd: REPO_ROOT,
    // The whole environment passes through, so CAIRN_STORAGE and friends
    // select e.g. the S3 backend without the harness knowing about them.
    // Log level defaults to warn to match the reference's config (no access log).
    env: { CAIRN_LOG_LEVEL: 'warn', ...process.env },
    args: (dir) => {
      // BENCH_CAIRN_NODE_ARGS: flags for Cairn's node (e.g. a V8 flag being evaluated).
      const nodeArgs = process.env.BENCH_CAIRN_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
      const args = [...nodeArgs, 'bin/cairn.js', 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')];
      if (process.env.BENCH_DATABASE_URL) args.push('--database-url', process.env.BENCH_DATABASE_URL);
      return args;
    },
  });
}

/** A registry somebody else runs: nothing to start or stop. */
export async function external(label, url) {
  const res = await request(new URL('/v2/', url));
  await res.body.dump();
  if (res.statusCode !== 200 && res.statusCode !== 401) throw new Error(`${url}/v2/ -> ${res.statusCode}`);
  return { label, url: new URL(url).origin, external: true };
}

const CLOCK_TICKS = 100; // USER_HZ, 100 on every Linux this runs on

/**
 * CPU seconds (user + system) a started server has used so far: unlike wall
 * rates, this stays meaningful when other work shares the cores.
 */
export function cpuSeconds(server) {
  if (!server.child) return undefined;
  try {
    const stat = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL if the process has not exited within 5 s. */
async function terminate(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!gone) {
    child.kill('SIGKILL');
    await exited;
  }
}

export async function stopServer(server) {
  if (!started.delete(server)) return;
  if (server.child) await terminate(server.child);
  if (!process.env.BENCH_KEEP) rmSync(server.dir, { recursive: true, force: true });
}

export function stopAll() {
  return Promise.all([...started].map(stopServer));
}

/** Last-resort cleanup when the harness is interrupted or crashes. */
export function killAllSync() {
  for (const { child, dir } of started) {
    if (child?.exitCode === null) child.kill('SIGKILL');
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
  started.clear();
}
