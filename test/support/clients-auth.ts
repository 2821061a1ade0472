// Shared plumbing for test/clients/auth-*.test.ts: real clients against Cairn with authentication enforced.
// Each suite starts Cairn with CAIRN_ADMIN_PASSWORD (so `admin` exists and every request needs credentials)
// on a port in AUTH_PORT_RANGE, creates its accounts through the admin API, and runs the same scenarios with
// its client through an AuthDriver: wrong password, no credentials, a user with push rights, a pull-only
// user, a CI robot. Credentials a client stores (docker's config.json, containers' auth.json) go to a fresh
// directory per session, so nothing leaks between tests or into the machine's own configuration.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import { ADMIN_PASSWORD, admin } from './auth.js';
import {
  AUTH_PORT_RANGE, SLOW, clientSuite, containersStorageArgs, describeResult, expectFailure, expectInRegistry, expectSuccess,
  listTags, registryLogSince, repoName, targetIsReference, useRegistry, waitFor, type CommandResult, type SuiteContext,
} from './clients.js';

export interface Identity {
  readonly username: string;
  readonly password: string;
}

/** Repositories the developer may push and the reader may pull; the robot's namespace. */
export const TEAM_NAMESPACE = 'team';
export const CI_NAMESPACE = 'ci';

/** A kind of denial: how the clients word it, and the request Cairn must have refused for it. */
export interface Refusal {
  /** Matched against the client's output. */
  readonly message: RegExp;
  /** Finds, in Cairn's request log of the command ("METHOD path -> status"), the line that refused it. */
  readonly byCairn: (log: readonly string[]) => string | undefined;
}

const TOKEN_REFUSED = /^(GET|POST) \/token\S* -> 401$/;
const TOKEN_GRANTED = /^(GET|POST) \/token\S* -> 200$/;
/** A repository route (not the bare /v2/ ping) refused to a client holding a token. */
function refusedWithToken(log: readonly string[]): string | undefined {
  const granted = log.findIndex((line) => TOKEN_GRANTED.test(line));
  return granted < 0 ? undefined : log.slice(granted + 1).find((line) => /^\w+ \/v2\/\S+ -> 40[13]$/.test(line));
}

/**
 * Credentials Cairn's token endpoint refused (401). Clients say: docker "unauthorized: invalid username or
 * password", containers/image "invalid username/password", containerd "401 Unauthorized".
 */
export const BAD_CREDENTIALS: Refusal = {
  message: /unauthorized|invalid username|incorrect username|\b401\b/i,
  byCairn: (log) => log.find((line) => TOKEN_REFUSED.test(line)),
};

/**
 * No credentials where some are needed. Cairn gives anonymous callers a token without any access (as the
 * token spec does) and refuses the request made with it, so clients report what they report on Docker Hub:
 * "denied: requested access to the resource is denied" (docker, containers/image), "insufficient_scope:
 * authorization failed" (containerd).
 */
export const NO_CREDENTIALS: Refusal = {
  message: /requested access to the resource is denied|insufficient_scope|unauthorized|authentication required/i,
  byCairn: refusedWithToken,
};

/**
 * A push by an authenticated caller without push rights there: its token lacks push, and no manifest is
 * stored. containerd 1.6 streams a manifest PUT through a pipe and, when the 401 arrives before it has
 * written the body, may report only "io: read/write on closed pipe" (Cairn's refusal is still required).
 */
export const NO_PUSH_RIGHTS: Refusal = {
  message: /denied|insufficient_scope|unauthorized|authentication required|read\/write on closed pipe/i,
  byCairn: (log) => (log.some((line) => /^PUT \/v2\/\S+\/manifests\/\S+ -> 201$/.test(line)) ? undefined : refusedWithToken(log)),
};

/**
 * The command failed with the refusal's message, and Cairn refused the request that explains it (waiting a
 * little: its log line may arrive after the client has exited). The client's own words (the first output
 * line matching) and Cairn's refusing request become a test diagnostic, so the run shows how each client
 * reports each denial.
 */
export async function expectRefused(t: TestContext, r: CommandResult, refusal: Refusal): Promise<CommandResult> {
  expectFailure(r, refusal.message);
  const byCairn = () => refusal.byCairn(registryLogSince(r.registryLogMark));
  await waitFor(() => byCairn() !== undefined, 2_000, () => 'the client failed, but not because Cairn refused it:\n' +
    describeResult({ ...r, registryLog: registryLogSince(r.registryLogMark) }));
  const line = `${r.stderr}\n${r.stdout}`.split('\n').find((l) => refusal.message.test(l)) ?? '';
  const words = r.command.split(' ');
  const verb = words.find((w) => /^(login|logout|push|pull|copy|inspect|list-tags)$/.test(w)) ?? '';
  t.diagnostic(`${basename(words[0]!)} ${verb} refused (Cairn: ${byCairn()}): ${line.trim()}`);
  return r;
}

/** One set of client-side credential state: a fresh directory for the client's config and auth file. */
export interface Session {
  readonly name: string;
  /** A new directory (holding only an empty auth.json); podman/buildah keep the session's storage here too. */
  readonly dir: string;
  /** DOCKER_CONFIG and REGISTRY_AUTH_FILE pointing into dir: give it to every command of the session. */
  readonly env: Record<string, string>;
  /** podman/buildah arguments for storage of the session's own under dir (with a short runroot). */
  readonly storageArgs: string[];
  /** Whom the session acts as: clients without a login command pass it on each command (--creds, --user). */
  who?: Identity;
}

/** `--creds`/`--user` value for the session's identity, or undefined for an anonymous session. */
export function credsOf(session: Session): string | undefined {
  return session.who ? `${session.who.username}:${session.who.password}` : undefined;
}

/** Hosts with credentials stored in the session's docker config.json or containers auth.json. */
export function storedLogins(session: Session): string[] {
  const hosts = new Set<string>();
  for (const file of [join(session.dir, 'config.json'), join(session.dir, 'auth.json')]) {
    if (!existsSync(file)) continue;
    const auths = (JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, { auth?: string }> }).auths ?? {};
    for (const [host, entry] of Object.entries(auths)) if (entry.auth) hosts.add(host);
  }
  return [...hosts].sort();
}

export interface AuthSuiteContext extends SuiteContext {
  readonly admin: Identity;
  /** A user with pull and push on team/**. */
  readonly developer: Identity;
  /** A user with pull only on team/**. */
  readonly reader: Identity;
  /** A robot account for CI, pull and push on ci/**, with the secret Cairn generated for it. */
  readonly robot: Identity;
  /** A new session with its own empty directory. */
  session(name: string): Session;
}

/**
 * clientSuite() against Cairn under authentication. The reference registry has no accounts, so with
 * CAIRN_CLIENT_TARGET=reference the suite is skipped (in CI too: no client is missing).
 */
export function authClientSuite(
  name: string,
  binaries: readonly string[],
  body: (ctx: AuthSuiteContext) => void,
): void {
  if (targetIsReference()) {
    describe(`${name} under auth`, () => {
      test('runs against Cairn', { skip: 'CAIRN_CLIENT_TARGET=reference: the reference registry has no accounts' }, () => {});
    });
    return;
  }
  clientSuite(`${name} under auth`, binaries, () => body(useAuthRegistry(name)));
}

/** Starts Cairn with an admin, and creates the accounts and permissions of AuthSuiteContext. */
function useAuthRegistry(label: string): AuthSuiteContext {
  const ctx = useRegistry(`auth-${label.split(/\W/)[0]}`, {
    env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD },
    portRange: AUTH_PORT_RANGE,
  }) as SuiteContext & { -readonly [K in keyof AuthSuiteContext]: AuthSuiteContext[K] };
  const secret = () => `pw-${randomBytes(12).toString('hex')}`;
  ctx.admin = { username: 'admin', password: ADMIN_PASSWORD };
  ctx.developer = { username: 'developer', password: secret() };
  ctx.reader = { username: 'reader', password: secret() };
  let sessions = 0;
  ctx.session = (name) => {
    const id = ++sessions;
    const dir = join(ctx.dir, 'sessions', `${id}-${name}`);
    mkdirSync(dir, { recursive: true });
    // podman 4.3 and buildah 1.28 refuse to push or pull when REGISTRY_AUTH_FILE names a missing file.
    writeFileSync(join(dir, 'auth.json'), JSON.stringify({ auths: {} }));
    return {
      name,
      dir,
      env: { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json') },
      storageArgs: containersStorageArgs(dir, join(ctx.dir, `run${id}`)),
    };
  };

  before(async () => {
    const base = ctx.registry.url;
    const post = async (path: string, body: unknown) => {
      const r = await admin(base, 'POST', path, body);
      assert.equal(r.status, 201, `POST /api/v1${path}: ${r.status} ${r.text()}`);
      return r;
    };
    await post('/users', { name: ctx.developer.username, password: ctx.developer.password });
    await post('/users', { name: ctx.reader.username, password: ctx.reader.password });
    const robot = await post('/robots', { name: 'ci-builder', description: `${label} auth tests` });
    ctx.robot = { username: 'ci-builder', password: robot.json<{ secret: string }>().secret };
    await post('/permissions', { account: ctx.developer.username, pattern: `${TEAM_NAMESPACE}/**`, actions: ['pull', 'push'] });
    await post('/permissions', { account: ctx.reader.username, pattern: `${TEAM_NAMESPACE}/**`, actions: ['pull'] });
    await post('/permissions', { account: ctx.robot.username, pattern: `${CI_NAMESPACE}/**`, actions: ['pull', 'push'] });
    // The direct checks (listTags, expectInRegistry) read as admin from now on.
    ctx.registry.credentials = ctx.admin;
  }, { timeout: 60_000 });
  return ctx;
}

/**
 * What the shared scenarios need from one client. Every method returns the command's result unchecked
 * (the scenario decides whether it must succeed or fail), and acts with the session's credentials: what its
 * login stored, or session.who passed on the command line.
 */
export interface AuthDriver {
  /** `CLIENT login` as session.who, for clients that have one; the others take credentials per command. */
  login?(session: Session): Promise<CommandResult>;
  /** Pushes the suite's test image (whose config is configDigest()) to repo:tag. */
  push(session: Session, repo: string, tag: string): Promise<CommandResult>;
  /** Pulls repo:tag into local storage that does not hold the image. */
  pull(session: Session, repo: string, tag: string): Promise<CommandResult>;
  /** The config digest (the image ID) of what pull() stored locally. */
  pulledConfig(session: Session, repo: string, tag: string): Promise<string>;
  /** The config digest of the image push() sends. */
  configDigest(): string;
}

/**
 * The scenarios every client goes through under auth. They share repositories and run in order: the
 * pull-only user pulls what the developer pushed.
 */
export function authScenarios(ctx: AuthSuiteContext, label: string, driver: AuthDriver): void {
  const teamRepo = repoName(label, TEAM_NAMESPACE);
  const ciRepo = repoName(label, CI_NAMESPACE);
  const host = () => ctx.registry.hostPort;
  const typo = () => `${ctx.developer.password}-typo`;

  /** A session acting as who; a login client logs in, which must succeed and store the credentials. */
  const signedIn = async (name: string, who: Identity): Promise<Session> => {
    const session = ctx.session(name);
    session.who = who;
    if (driver.login) {
      expectSuccess(await driver.login(session));
      assert.deepEqual(storedLogins(session), [host()], `${name}: the login should be stored in the session's dir only`);
    }
    return session;
  };

  /** Pushes as `pusher`, then pulls back in a fresh session signed in as `who`: same config. */
  const pushThenPullBack = async (pusher: Session, pullerName: string, who: Identity, repo: string, tag: string) => {
    expectSuccess(await driver.push(pusher, repo, tag));
    await expectInRegistry(ctx.registry, repo, tag, { configDigest: driver.configDigest() });
    const puller = await signedIn(pullerName, who);
    expectSuccess(await driver.pull(puller, repo, tag));
    assert.equal(await driver.pulledConfig(puller, repo, tag), driver.configDigest());
  };

  test('a wrong password is refused: nothing is stored, pushed or pulled', SLOW, async (t) => {
    const session = ctx.session('wrong-password');
    session.who = { username: ctx.developer.username, password: typo() };
    if (driver.login) {
      // Then there is nothing to push or pull with: that is the next test.
      await expectRefused(t, await driver.login(session), BAD_CREDENTIALS);
      assert.deepEqual(storedLogins(session), [], 'a refused login must not be stored');
    } else {
      await expectRefused(t, await driver.push(session, teamRepo, 'wrong'), BAD_CREDENTIALS);
      await expectRefused(t, await driver.pull(session, teamRepo, 'wrong'), BAD_CREDENTIALS);
    }
    assert.deepEqual(await listTags(ctx.registry, teamRepo), []);
  });

  test('without credentials push and pull are refused', SLOW, async (t) => {
    const session = ctx.session('anonymous');
    await expectRefused(t, await driver.push(session, teamRepo, 'anonymous'), NO_CREDENTIALS);
    await expectRefused(t, await driver.pull(session, teamRepo, 'anonymous'), NO_CREDENTIALS);
    assert.deepEqual(await listTags(ctx.registry, teamRepo), []);
  });

  test('a user with push rights pushes, then pulls back into empty storage', SLOW, async () => {
    await pushThenPullBack(await signedIn('developer-push', ctx.developer), 'developer-pull', ctx.developer, teamRepo, 'v1');
  });

  test('a pull-only user pulls but cannot push', SLOW, async (t) => {
    const session = await signedIn('reader', ctx.reader);
    expectSuccess(await driver.pull(session, teamRepo, 'v1'));
    assert.equal(await driver.pulledConfig(session, teamRepo, 'v1'), driver.configDigest());
    await expectRefused(t, await driver.push(session, teamRepo, 'by-reader'), NO_PUSH_RIGHTS);
    assert.deepEqual(await listTags(ctx.registry, teamRepo), ['v1']);
  });

  test('a CI robot pushes with its secret and pulls back; it cannot push outside its namespace', SLOW, async (t) => {
    const session = await signedIn('robot', ctx.robot);
    await pushThenPullBack(session, 'robot-pull', ctx.robot, ciRepo, 'build-1');
    await expectRefused(t, await driver.push(session, teamRepo, 'by-robot'), NO_PUSH_RIGHTS);
    assert.deepEqual(await listTags(ctx.registry, teamRepo), ['v1']);
  });

  test('no password, robot secret or token reached Cairn\'s logs', () => {
    const logs = (ctx.registry.logs ?? []).join('\n');
    assert.ok(logs.includes('"msg":"request"'), 'no request lines in the logs: nothing to check');
    for (const { username, password } of [ctx.admin, ctx.developer, ctx.reader, ctx.robot]) {
      assert.ok(!logs.includes(password), `the secret of ${username} is in the logs`);
    }
    assert.ok(!logs.includes(typo()), 'the wrong password is in the logs');
    assert.ok(!/eyJ[\w-]{10,}\.eyJ/.test(logs), 'a JWT is in the logs');
  });
}
