// Shared plumbing for test/clients/*.test.ts: running client binaries (spawned with argument arrays, never
// through a shell, always with a timeout), the skip-or-fail policy for missing clients, the registry under
// test (Cairn, or the reference registry with CAIRN_CLIENT_TARGET=reference), private daemons started by
// scripts/ci/, and direct HTTP checks of what a client left in the registry.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUSYBOX, buildBusyboxOciLayout, type BuiltImage } from './images.js';

export interface PortRange {
  readonly first: number;
  readonly last: number;
}
/** The only ports anything started by these tests may listen on. */
export const PORT_RANGE: PortRange = { first: 5700, last: 5749 };
/** The ports of the suites under authentication (test/clients/auth-*.test.ts), apart from the others'. */
export const AUTH_PORT_RANGE: PortRange = { first: 5750, last: 5799 };
/** In CI the clients are installed by scripts/ci/install-clients.sh, so a missing one is a failure. */
export const IN_CI = process.env.CI === 'true';
/** Per-test budget: the slowest flows (docker build, podman run) take a few seconds; this bounds a hang. */
export const SLOW = { timeout: 300_000 } as const;
const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;
const MAX_CAPTURE = 1 << 20;

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
const CI_SCRIPTS = join(REPO_ROOT, 'scripts', 'ci');

function findRepoRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${start}`);
}

/**
 * A fresh directory /tmp/cairn-clients-LABEL-HEX. Lowercase on purpose: podman and buildah name images pulled
 * from an OCI layout after the layout's path, and reject uppercase names.
 */
export function tempDir(label: string): string {
  const dir = `/tmp/cairn-clients-${label.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------- commands

export interface CommandResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** What the registry under test logged while the command ran (Cairn only), for failure messages. */
  registryLog: string[];
  /** Where the command's part of the registry's log starts: registryLogSince(mark) reads it again later. */
  registryLogMark: number;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  /** Written to the command's standard input (closed after it); without it stdin is /dev/null. */
  input?: string;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function formatCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(quote).join(' ');
}

/**
 * Runs cmd with args, capturing output. On timeout the whole process group is killed: clients such as
 * podman leave helpers (conmon, runc) that would otherwise outlive the test.
 */
export function runCommand(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const command = formatCommand(cmd, args);
  const logMark = activeRegistry?.logs?.length ?? 0;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    // A client that exits before reading its input must not crash the test run with EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (c: Buffer) => { if (stdout.length < MAX_CAPTURE) stdout += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { if (stderr.length < MAX_CAPTURE) stderr += c.toString(); });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({
        command, code, signal, stdout, stderr, timedOut, registryLog: registryLogSince(logMark), registryLogMark: logMark,
      });
    };
    child.on('error', (err) => { stderr += String(err); finish(null, null); });
    child.on('close', finish);
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function describeResult(r: CommandResult): string {
  const status = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  const registry = r.registryLog.length ? `\n--- registry log\n${r.registryLog.slice(-40).join('\n')}` : '';
  return `$ ${r.command}\n(${status})\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}${registry}`;
}

/**
 * The registry of the suite in this process (node --test runs each test file in its own process, and each
 * client file has one suite), so that a failing command can show the requests the registry saw.
 */
let activeRegistry: RegistryUnderTest | undefined;

/** Cairn's JSON log lines after `mark`, request lines shortened to "METHOD path -> status". */
export function registryLogSince(mark: number): string[] {
  const logs = activeRegistry?.logs ?? [];
  return logs.slice(Math.min(mark, logs.length)).map((line) => {
    try {
      const e = JSON.parse(line) as { msg?: string; method?: string; path?: string; status?: number };
      return e.msg === 'request' ? `${e.method} ${e.path} -> ${e.status}` : line;
    } catch {
      return line;
    }
  });
}

export function expectSuccess(r: CommandResult): CommandResult {
  if (r.code !== 0) assert.fail(`command failed:\n${describeResult(r)}`);
  return r;
}

/** A failure that is the client refusing, not a hang or a crash; `pattern` is matched against all output. */
export function expectFailure(r: CommandResult, pattern?: RegExp): CommandResult {
  if (r.timedOut) assert.fail(`command timed out instead of failing:\n${describeResult(r)}`);
  if (r.code === 0) assert.fail(`command succeeded but should have failed:\n${describeResult(r)}`);
  if (pattern && !pattern.test(r.stdout + r.stderr)) {
    assert.fail(`command failed without matching ${pattern}:\n${describeResult(r)}`);
  }
  return r;
}

/** One client binary with the global arguments and environment every call needs. */
export class Client {
  constructor(
    readonly bin: string,
    readonly globalArgs: readonly string[] = [],
    readonly env: Record<string, string> = {},
  ) {}

  run(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    return runCommand(this.bin, [...this.globalArgs, ...args], { ...options, env: { ...this.env, ...options.env } });
  }

  async ok(args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return expectSuccess(await this.run(args, options));
  }

  async fails(args: readonly string[], pattern?: RegExp, options?: RunOptions): Promise<CommandResult> {
    return expectFailure(await this.run(args, options), pattern);
  }
}

// ----------------------------------------------------------------------------------------------- binaries

export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, name);
    if (dir && isExecutable(path)) return path;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The docker CLI matching Debian's dockerd 20.10. The machine may have a newer CLI in /usr/local/bin that,
 * without the buildx plugin, cannot run BuildKit builds against this daemon.
 */
export const DOCKER_CLI = isExecutable('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

/**
 * describe() for one client's tests. When a binary is missing the suite is skipped with the reason, except
 * in CI (CI=true), where the clients are installed and a missing one is a failure.
 */
export function clientSuite(name: string, binaries: readonly string[], body: () => void): void {
  // Every suite also needs busybox for its test image, and the reference registry when that is the target.
  const required = [...binaries, BUSYBOX, ...(targetIsReference() ? [REFERENCE_BINARY] : [])];
  const missing = required.filter((b) => !findBinary(b));
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  // One stand-in test either way, so the run's totals show the suite as failed or skipped, not as absent.
  const reason = `missing ${missing.join(', ')}: run scripts/ci/install-clients.sh as root`;
  describe(name, () => {
    if (IN_CI) test('client binaries are installed', () => assert.fail(reason));
    else test('client binaries are installed', { skip: reason }, () => {});
  });
}

// ------------------------------------------------------------------------------------- registry under test

export interface RegistryUnderTest {
  kind: 'cairn' | 'reference';
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the prefix of image references. */
  hostPort: string;
  dataDir?: string;
  /** Cairn's log lines (JSON), appended as it runs. */
  logs?: readonly string[];
  /** Sent as HTTP Basic by the direct checks below (listTags, fetchManifest) when the registry enforces auth. */
  credentials?: { username: string; password: string };
  stop(): Promise<void>;
}

interface CairnModule {
  startCairn?: (options?: { database?: 'pglite' | 'postgres'; env?: Record<string, string>; extraArgs?: string[] }) =>
    Promise<Omit<RegistryUnderTest, 'kind'>>;
  startRegistry?: () => Promise<Omit<RegistryUnderTest, 'kind'>>;
}

/** Checked before starting a server: one already on the port could answer in its place. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Calls start(port) on free ports of range (PORT_RANGE by default), from a random one on (test files run
 * concurrently), until it returns a server; start returns null when it lost a race for the port.
 */
export async function startOnFreePort<T>(
  what: string,
  start: (port: number) => Promise<T | null>,
  range: PortRange = PORT_RANGE,
): Promise<T> {
  const span = range.last - range.first + 1;
  const offset = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = range.first + ((offset + i) % span);
    if (!(await portIsFree(port))) continue;
    const started = await start(port);
    if (started) return started;
  }
  throw new Error(`no free port in ${range.first}-${range.last} for ${what}`);
}

async function startCairnInRange(mod: CairnModule, options: RegistryOptions): Promise<Omit<RegistryUnderTest, 'kind'>> {
  const database = process.env.CAIRN_CLIENT_DATABASE as 'pglite' | 'postgres' | undefined;
  if (!mod.startCairn) {
    if (!mod.startRegistry) throw new Error('test/support/registry.ts exports neither startCairn nor startRegistry');
    return mod.startRegistry();
  }
  const startCairn = mod.startCairn;
  // startCairn listens on an ephemeral port; a later --listen overrides it and keeps Cairn in our range.
  return startOnFreePort('cairn', async (port) => {
    try {
      return await startCairn({
        ...(database ? { database } : {}),
        ...(options.env ? { env: options.env } : {}),
        extraArgs: ['--listen', `127.0.0.1:${port}`],
      });
    } catch (err) {
      if (/EADDRINUSE/.test(String(err))) return null;
      throw err;
    }
  }, options.portRange);
}

/** Debian's docker-registry, CNCF distribution 2.8: see reference-registry.ts. */
export const REFERENCE_BINARY = '/usr/bin/docker-registry';

export function targetIsReference(): boolean {
  return process.env.CAIRN_CLIENT_TARGET === 'reference';
}

export interface RegistryOptions {
  /** Environment of the Cairn server (e.g. CAIRN_ADMIN_PASSWORD); Cairn only. */
  env?: Record<string, string>;
  /** Where Cairn listens; PORT_RANGE by default. */
  portRange?: PortRange;
}

/**
 * CAIRN_CLIENT_TARGET=reference: Debian's docker-registry (distribution 2.8). Otherwise Cairn, started by
 * test/support/registry.ts; CAIRN_CLIENT_DATABASE=postgres|pglite picks its metadata store.
 */

export async function startRegistryUnderTest(options: RegistryOptions = {}): Promise<RegistryUnderTest> {
  if (targetIsReference()) {
    const { startReference } = await import('./reference-registry.js');
    return startReference();
  }
  // A variable specifier keeps tsc from requiring the module at compile time: registry.ts is owned and
  // written by others, and these tests must still build while it does not exist.
  const specifier = './registry.js';
  let mod: CairnModule;
  try {
    mod = (await import(specifier)) as CairnModule;
  } catch (err) {
    throw new Error(`cannot load test/support/registry.ts (${String(err)}); ` +
      'set CAIRN_CLIENT_TARGET=reference to run the client tests against the reference registry');
  }
  return { ...(await startCairnInRange(mod, options)), kind: 'cairn' };
}

export interface SuiteContext {
  registry: RegistryUnderTest;
  /** Temp dir for this suite, removed after it. */
  dir: string;
  /** Registers cleanup run after the suite, last registered first (daemons before the dir they live in). */
  defer(fn: () => Promise<void> | void): void;
}

/** Registers before/after hooks that start the registry under test and a temp dir for one client suite. */
export function useRegistry(label: string, options: RegistryOptions = {}): SuiteContext {
  const cleanups: Array<() => Promise<void> | void> = [];
  const ctx = { defer: (fn: () => Promise<void> | void) => { cleanups.push(fn); } } as SuiteContext;
  before(async () => {
    ctx.dir = tempDir(label);
    cleanups.push(() => rmSync(ctx.dir, { recursive: true, force: true }));
    cleanups.push(() => unmountUnder(ctx.dir));
    ctx.registry = await startRegistryUnderTest(options);
    activeRegistry = ctx.registry;
    cleanups.push(() => ctx.registry.stop());
    // Shows up in the test output: which registry a failure was against.
    console.log(`${label}: registry under test is ${ctx.registry.kind} at ${ctx.registry.hostPort}`);
  }, { timeout: 120_000 });
  after(async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup of ${label} failed:`, err);
      }
    }
  }, { timeout: 120_000 });
  return ctx;
}

// ---------------------------------------------------------------------------------------------- daemons

/** Runs scripts/ci/start-SCRIPT.sh DIR ARGS... and returns the socket path it prints once ready. */
async function startDaemon(script: string, dir: string, args: readonly string[]): Promise<string> {
  const r = expectSuccess(await runCommand('bash', [join(CI_SCRIPTS, script), dir, ...args], { timeoutMs: 90_000 }));
  const socket = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(socket.endsWith('.sock'), `${script} printed no socket path:\n${describeResult(r)}`);
  return socket;
}

/** Private dockerd under ctx.dir/dockerd, stopped after the suite; returns a docker Client bound to it. */
export async function startDockerd(ctx: SuiteContext): Promise<Client> {
  const dir = join(ctx.dir, 'dockerd');
  const port = ctx.registry.hostPort.split(':')[1]!;
  ctx.defer(() => stopDaemon(dir));
  const socket = await startDaemon('start-dockerd.sh', dir, [port]);
  // A private config dir: no credentials or settings of the machine's docker client leak in.
  return new Client(DOCKER_CLI, ['-H', `unix://${socket}`], { DOCKER_CONFIG: join(dir, 'client-config') });
}

/** Private containerd under ctx.dir/containerd, stopped after the suite; returns a ctr Client bound to it. */
export async function startContainerd(ctx: SuiteContext): Promise<Client> {
  const dir = join(ctx.dir, 'containerd');
  ctx.defer(() => stopDaemon(dir));
  const socket = await startDaemon('start-containerd.sh', dir, []);
  return new Client('ctr', ['--address', socket, '--namespace', 'cairn-test']);
}

/**
 * A busybox OCI layout tagged v1 under ctx.dir/layout, tarred for `ctr images import` (which reads
 * an OCI layout only as a tar). `marker` is the content of /etc/client, so each suite's image differs.
 */
export async function busyboxArchiveForCtr(ctx: SuiteContext, marker: string): Promise<{ image: BuiltImage; archive: string }> {
  const layout = join(ctx.dir, 'layout');
  const image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: marker } });
  const archive = join(ctx.dir, 'layout.tar');
  expectSuccess(await runCommand('tar', ['-C', layout, '-cf', archive, '.']));
  return { image, archive };
}

async function stopDaemon(dir: string): Promise<void> {
  const r = await runCommand('bash', [join(CI_SCRIPTS, 'stop-daemon.sh'), dir], { timeoutMs: 90_000 });
  if (r.code !== 0) console.error(`stop-daemon failed:\n${describeResult(r)}`);
}

/** Lazily unmounts everything under dir (overlay mounts left by podman/buildah/dockerd), deepest first. */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${dir}/`))
    .sort()
    .reverse();
  for (const mountPoint of mounts) spawnSync('umount', ['-l', mountPoint], { timeout: 10_000 });
}

/**
 * Arguments that give podman/buildah their own storage under dir instead of /var/lib/containers. podman
 * refuses a runroot longer than 50 characters: deeper dirs pass a shorter one.
 */
export function containersStorageArgs(dir: string, runroot = join(dir, 'runroot')): string[] {
  return ['--root', join(dir, 'storage'), '--runroot', runroot, '--storage-driver', 'overlay'];
}

// --------------------------------------------------------------------------------------------- processes

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  message: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL if the child has not exited within timeoutMs. */
export async function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

// ------------------------------------------------------------------------------- registry state over HTTP

/** Unique repository names per run, so nothing depends on a registry being empty. */
export function repoName(prefix: string, namespace = 'cairn-test'): string {
  return `${namespace}/${prefix}-${randomBytes(3).toString('hex')}`;
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** The Authorization header for the direct checks: HTTP Basic with registry.credentials, if any. */
function authHeaders(registry: RegistryUnderTest): Record<string, string> {
  const c = registry.credentials;
  return c ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` } : {};
}

/** Tags of repo read straight from the registry (not through the client under test); [] when unknown. */
export async function listTags(registry: RegistryUnderTest, repo: string): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/${repo}/tags/list`, {
    headers: authHeaders(registry),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status === 404) return [];
  const text = await res.text();
  assert.equal(res.status, 200, `GET /v2/${repo}/tags/list: ${res.status} ${text}`);
  const body = JSON.parse(text) as { tags?: string[] | null };
  return (body.tags ?? []).sort();
}

export interface FetchedManifest {
  status: number;
  digest?: string;
  mediaType?: string;
  body: string;
}

/** GET a manifest; `digest` is computed from the body, and checked against Docker-Content-Digest if sent. */
export async function fetchManifest(registry: RegistryUnderTest, repo: string, ref: string): Promise<FetchedManifest> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${ref}`, {
    headers: { accept: MANIFEST_ACCEPT, ...authHeaders(registry) },
    signal: AbortSignal.timeout(10_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const body = bytes.toString('utf8');
  if (res.status !== 200) return { status: res.status, body };
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const header = res.headers.get('docker-content-digest');
  if (header) assert.equal(header, digest, `Docker-Content-Digest of ${repo}:${ref} is not the body's digest`);
  return { status: 200, digest, mediaType: res.headers.get('content-type') ?? undefined, body };
}

/** `127.0.0.1:PORT/repo:tag` */
export function imageRef(registry: RegistryUnderTest, repo: string, tag: string): string {
  return `${registry.hostPort}/${repo}:${tag}`;
}

/** How each client reports a tag or repository the registry does not have (a 404 on the manifest). */
export const MISSING_MANIFEST = /manifest unknown|not found/i;
/** How clients reject a malformed reference before sending anything. */
export const INVALID_REFERENCE = /invalid reference format|must be lowercase|invalid/i;
/** Uppercase is not allowed in repository names: containers/image and docker refuse it themselves, ctr sends
 *  it and the registry must refuse it. */
export const INVALID_REPO = 'cairn-test/Not_Valid';

/**
 * Checks, over plain HTTP, that repo:tag is in the registry: listed in the tag list and served as a
 * manifest. Returns the manifest; `configDigest`, when given, must be the one it references.
 */
export async function expectInRegistry(
  registry: RegistryUnderTest,
  repo: string,
  tag: string,
  expected: { manifestDigest?: string; configDigest?: string } = {},
): Promise<FetchedManifest & { config: { digest: string } }> {
  assert.ok((await listTags(registry, repo)).includes(tag), `${repo}:${tag} is not in the tag list`);
  const fetched = await fetchManifest(registry, repo, tag);
  assert.equal(fetched.status, 200, `GET manifest ${repo}:${tag}: ${fetched.status} ${fetched.body}`);
  if (expected.manifestDigest) assert.equal(fetched.digest, expected.manifestDigest, `digest of ${repo}:${tag}`);
  const manifest = JSON.parse(fetched.body) as { config: { digest: string } };
  if (expected.configDigest) assert.equal(manifest.config.digest, expected.configDigest, `config of ${repo}:${tag}`);
  return { ...fetched, config: manifest.config };
}
