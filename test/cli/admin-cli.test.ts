/**
 * The admin CLI against a started server: `cairn login` stores a refresh token (never the
 * password) in a 0600 file under $XDG_CONFIG_HOME/cairn/, and every users, robots, permissions,
 * tokens and caches command works through the admin API, in lines and in --json. Refusals are
 * one line and exit status 2.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fixtureManifest, pushManifest } from '../cache-api/support.js';
import { ADMIN_PASSWORD, basic } from '../support/auth.js';
import { assertUserError, cairn, type CliResult } from '../support/cli.js';
import { http } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase(
  'admin CLI',
  (ctx) => {
    let home: string;
    const env = () => ({ XDG_CONFIG_HOME: home });
    const run = (args: string[], input?: string) => cairn(args, { env: env(), ...(input === undefined ? {} : { input }) });
    const ok = (r: CliResult) => {
      assert.equal(r.status, 0, `stderr: ${r.stderr}`);
      return r;
    };
    const json = async <T = any>(args: string[], input?: string): Promise<T> => JSON.parse(ok(await run([...args, '--json'], input)).stdout) as T;

    before(async () => {
      home = await mkdtemp(join(tmpdir(), 'cairn-cli-home-'));
    });
    after(async () => {
      await rm(home, { recursive: true, force: true });
    });

    test('before login, commands say how to log in', async () => {
      assertUserError(await run(['users', 'list']), 'not logged in: run cairn login URL first');
    });

    test('a wrong password is refused in one line; nothing is stored', async () => {
      const result = await run(['login', ctx.base, '--username', 'admin', '--password-stdin'], 'wrong\n');
      assertUserError(result, /^cairn: http:\/\/127\.0\.0\.1:\d+ refused the login: .+\n$/);
      await assert.rejects(stat(join(home, 'cairn', 'credentials.json')), { code: 'ENOENT' });
    });

    test('login stores the URL, the name and a refresh token, mode 0600, never the password', async () => {
      const answer = await json(['login', ctx.base, '--username', 'admin', '--password-stdin'], `${ADMIN_PASSWORD}\n`);
      const path = join(home, 'cairn', 'credentials.json');
      assert.deepEqual(answer, { url: ctx.base, username: 'admin', credentials: path });
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(home, 'cairn'))).mode & 0o777, 0o700);
      const text = await readFile(path, 'utf8');
      assert.doesNotMatch(text, new RegExp(ADMIN_PASSWORD));
      const stored = JSON.parse(text);
      assert.equal(stored.url, ctx.base);
      assert.equal(typeof stored.refreshToken, 'string');
    });

    test('users: create, list, delete (disable), in lines and JSON', async () => {
      const created = await json(['users', 'create', 'alice', '--password-stdin'], 'alice-password-long-enough\n');
      assert.equal(created.name, 'alice');
      assert.equal(created.admin, false);
      const listed = ok(await run(['users', 'list']));
      assert.match(listed.stdout, /^NAME +ADMIN +DISABLED +CREATED\n/);
      assert.match(listed.stdout, /\nalice +false +false +\S+/);
      // The new user's password works at the registry's token endpoint.
      const token = await http('GET', `${ctx.base}/token?service=x`, { headers: basic('alice', 'alice-password-long-enough') });
      assert.equal(token.status, 200, token.text());
      const disabled = await json(['users', 'delete', 'alice']);
      assert.equal(disabled.disabled, true);
      const users = await json<{ users: Array<{ name: string; disabled: boolean }> }>(['users', 'list']);
      assert.equal(users.users.find((u) => u.name === 'alice')?.disabled, true);
      assertUserError(await run(['users', 'create', 'alice', '--password-stdin'], 'another-password-long\n'), /^cairn: .+\n$/);
    });

    test('robots: create prints the secret once; list; delete disables', async () => {
      const created = await json(['robots', 'create', 'ci', '--description', 'the CI pipeline']);
      assert.match(created.secret, /^cairn_robot_/);
      const lines = ok(await run(['robots', 'list'])).stdout;
      assert.match(lines, /\nci +false +the CI pipeline +\S+/);
      assert.doesNotMatch(lines, /cairn_robot_/);
      assert.equal((await json(['robots', 'delete', 'ci'])).disabled, true);
    });

    test('permissions: create, list, delete by id; a bad id is a usage error', async () => {
      ok(await run(['users', 'create', 'bob', '--password-stdin'], 'bob-password-long-enough\n'));
      const grant = await json(['permissions', 'create', '--account', 'bob', '--pattern', 'team/**', '--actions', 'pull,push']);
      assert.deepEqual([grant.account, grant.pattern, grant.actions], ['bob', 'team/**', ['pull', 'push']]);
      assert.match(ok(await run(['permissions', 'list'])).stdout, new RegExp(`\\n${grant.id} +bob +team/\\*\\* +pull,push`));
      ok(await run(['permissions', 'delete', String(grant.id)]));
      const left = await json<{ permissions: Array<{ id: number }> }>(['permissions', 'list']);
      assert.ok(!left.permissions.some((p) => p.id === grant.id));
      assertUserError(await run(['permissions', 'delete', String(grant.id)]), /^cairn: .+\n$/);
      assertUserError(await run(['permissions', 'delete', 'x1']), '"x1" is not a permission id (a positive number; see cairn permissions list)');
      assertUserError(await run(['permissions', 'create', '--pattern', 'a', '--actions', 'pull']), 'cairn permissions create needs one of --account NAME or --anonymous');
    });

    test('tokens: create prints the secret once, and it works; list; delete revokes', async () => {
      const created = await json(['tokens', 'create', 'laptop']);
      assert.equal(created.account, 'admin');
      assert.match(created.secret, /^cairn_pat_/);
      const withToken = await http('GET', `${ctx.base}/api/v1/users`, { headers: basic('admin', created.secret) });
      assert.equal(withToken.status, 200);
      assert.match(ok(await run(['tokens', 'list'])).stdout, /\nlaptop +\S+ +- +- +/);
      ok(await run(['tokens', 'delete', 'laptop']));
      const tokens = await json<{ tokens: Array<{ name: string; revokedAt: string | null }> }>(['tokens', 'list', '--account', 'admin']);
      assert.ok(tokens.tokens.find((t) => t.name === 'laptop')?.revokedAt);
      assert.equal((await http('GET', `${ctx.base}/api/v1/users`, { headers: basic('admin', created.secret) })).status, 401);
    });

    test('caches: list and show a pushed BuildKit cache', async () => {
      const cache = fixtureManifest('c-min');
      await pushManifest(ctx.base, 'team/app', 'cache', cache.bytes, cache.mediaType, { headers: basic('admin', ADMIN_PASSWORD) });
      const all = await json<{ caches: Array<{ repository: string; tag: string }> }>(['caches', 'list']);
      assert.deepEqual(all.caches.map((c) => `${c.repository}:${c.tag}`), ['team/app:cache']);
      assert.match(ok(await run(['caches', 'list', '--repository', 'team/app'])).stdout, /\nteam\/app +cache +/);
      const shown = await json(['caches', 'show', 'team/app', 'cache']);
      assert.equal(shown.tag, 'cache');
      assert.ok(Array.isArray(shown.layers) && shown.layers.length > 0);
      assert.match(ok(await run(['caches', 'show', 'team/app', 'cache'])).stdout, /LAYER +SIZE\nsha256:/);
      assertUserError(await run(['caches', 'show', 'team/app', 'nothing']), /^cairn: .+\n$/);
    });

    test('a server that is gone is one line, exit 2 (nothing listens on 6017, in this session\'s port range)', async () => {
      const result = await cairn(['login', 'http://127.0.0.1:6017', '--username', 'admin', '--password-stdin'], { env: env(), input: 'x\n' });
      assertUserError(result, /^cairn: cannot reach http:\/\/127\.0\.0\.1:6017: ECONNREFUSED\n$/);
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD } },
);
