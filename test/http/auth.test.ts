/**
 * Access control over HTTP: challenges, the token endpoint, Basic auth on /v2, permissions, and
 * every denial path, each with its exact status, challenge and error code.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SignJWT, generateKeyPair, importPKCS8 } from 'jose';
import { ADMIN_PASSWORD, accessClaim, admin, basic, bearer, parseChallenge, tokenFor } from '../support/auth.js';
import { errorCode, http } from '../support/http.js';
import { makeImage, pushBlob, pushImage, randomBlob } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase(
  'access control',
  (ctx) => {
    const dev = { name: 'dev', password: 'dev-password-1' };
    const reader = { name: 'reader', password: 'reader-password-1' };
    let robotSecret = '';
    let adminToken = '';
    const img = makeImage();

    test('setup: users, a robot and grants through the admin API', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', dev)).status, 201);
      assert.equal((await admin(ctx.base, 'POST', '/users', reader)).status, 201);
      const robot = await admin(ctx.base, 'POST', '/robots', { name: 'ci-bot', description: 'CI' });
      assert.equal(robot.status, 201);
      robotSecret = robot.json().secret;
      assert.match(robotSecret, /^cairn_robot_/);
      const grants = [
        { account: 'dev', pattern: 'team/**', actions: ['pull', 'push'] },
        { account: 'reader', pattern: 'team/*', actions: ['pull'] },
        { account: 'ci-bot', pattern: 'ci/*', actions: ['pull', 'push', 'delete'] },
        { anonymous: true, pattern: 'public/*', actions: ['pull'] },
      ];
      for (const grant of grants) assert.equal((await admin(ctx.base, 'POST', '/permissions', grant)).status, 201);
      adminToken = await tokenFor(ctx.base, ['repository:public/app:pull,push'], basic('admin', ADMIN_PASSWORD));
      await pushImage(ctx.base, 'public/app', img, 'v1').catch(() => undefined);
      // Pushing under auth with the admin's Basic credentials through the test helper is not possible
      // (the helper sends none), so the image goes in with an admin token below.
    });

    test('no credentials: /v2/ is 401 with a Bearer challenge naming realm and service', async () => {
      const response = await http('GET', `${ctx.base}/v2/`);
      assert.equal(response.status, 401);
      assert.equal(errorCode(response), 'UNAUTHORIZED');
      const challenge = parseChallenge(response.headers['www-authenticate']);
      assert.equal(challenge.realm, `${ctx.base}/token`);
      assert.equal(challenge.service, 'cairn');
      assert.equal(challenge.scope, undefined);
    });

    test('no credentials: each route challenges with exactly the scope it needs', async () => {
      const cases: Array<[string, string, string]> = [
        ['GET', '/v2/team/app/manifests/latest', 'repository:team/app:pull'],
        ['HEAD', '/v2/team/app/blobs/sha256:' + '0'.repeat(64), 'repository:team/app:pull'],
        ['GET', '/v2/team/app/tags/list', 'repository:team/app:pull'],
        ['POST', '/v2/team/app/blobs/uploads/', 'repository:team/app:pull,push'],
        ['PUT', '/v2/team/app/manifests/v1', 'repository:team/app:pull,push'],
        ['DELETE', '/v2/team/app/manifests/v1', 'repository:team/app:delete'],
        ['GET', '/v2/_catalog', 'registry:catalog:*'],
      ];
      for (const [method, path, scope] of cases) {
        const response = await http(method, `${ctx.base}${path}`);
        assert.equal(response.status, 401, `${method} ${path}`);
        assert.equal(parseChallenge(response.headers['www-authenticate']).scope, scope, `${method} ${path}`);
      }
    });

    test('token endpoint: anonymous, Basic user, robot; response fields', async () => {
      const response = await http('GET', `${ctx.base}/token?service=cairn&scope=repository:team/app:pull`, { headers: basic(dev.name, dev.password) });
      assert.equal(response.status, 200);
      const body = response.json();
      assert.equal(body.token, body.access_token);
      assert.equal(body.expires_in, 300);
      assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
      assert.deepEqual(accessClaim(body.token), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
      const robot = await tokenFor(ctx.base, ['repository:ci/app:pull,push'], basic('ci-bot', robotSecret));
      assert.deepEqual(accessClaim(robot)[0]!.actions.sort(), ['pull', 'push']);
      const anonymous = await tokenFor(ctx.base, ['repository:public/app:pull', 'repository:team/app:pull']);
      assert.deepEqual(accessClaim(anonymous), [{ type: 'repository', name: 'public/app', actions: ['pull'] }]);
    });

    test('scope escalation: granted actions are the intersection of asked and allowed', async () => {
      const token = await tokenFor(ctx.base, ['repository:team/app:pull,push,delete', 'repository:other/app:pull', 'repository:team/app:*'], basic(reader.name, reader.password));
      const claims = accessClaim(token);
      assert.deepEqual(claims, [
        { type: 'repository', name: 'team/app', actions: ['pull'] },
        { type: 'repository', name: 'team/app', actions: ['pull'] },
      ]);
    });

    test('a pull with a token works; the same token cannot push (insufficient_scope)', async () => {
      const pushToken = await tokenFor(ctx.base, ['repository:team/app:pull,push'], basic(dev.name, dev.password));
      const blob = randomBlob(100);
      const upload = await http('POST', `${ctx.base}/v2/team/app/blobs/uploads/?digest=${blob.digest}`, { headers: bearer(pushToken), body: blob.bytes });
      assert.equal(upload.status, 201, upload.text());
      const pullToken = await tokenFor(ctx.base, ['repository:team/app:pull'], basic(reader.name, reader.password));
      assert.equal((await http('HEAD', `${ctx.base}/v2/team/app/blobs/${blob.digest}`, { headers: bearer(pullToken) })).status, 200);
      const denied = await http('POST', `${ctx.base}/v2/team/app/blobs/uploads/`, { headers: bearer(pullToken) });
      assert.equal(denied.status, 401);
      assert.equal(errorCode(denied), 'DENIED');
      const challenge = parseChallenge(denied.headers['www-authenticate']);
      assert.equal(challenge.error, 'insufficient_scope');
      assert.equal(challenge.scope, 'repository:team/app:pull,push');
    });

    test('a token for repository A does not open repository B', async () => {
      const token = await tokenFor(ctx.base, ['repository:team/a:pull'], basic(dev.name, dev.password));
      const response = await http('GET', `${ctx.base}/v2/team/b/tags/list`, { headers: bearer(token) });
      assert.equal(response.status, 401);
      assert.equal(parseChallenge(response.headers['www-authenticate']).error, 'insufficient_scope');
    });

    test('delete needs the delete permission', async () => {
      const token = await tokenFor(ctx.base, ['repository:team/app:delete'], basic(dev.name, dev.password));
      assert.deepEqual(accessClaim(token), []);
      const response = await http('DELETE', `${ctx.base}/v2/team/app/manifests/v1`, { headers: bearer(token) });
      assert.equal(response.status, 401);
      const viaBasic = await http('DELETE', `${ctx.base}/v2/team/app/manifests/v1`, { headers: basic(dev.name, dev.password) });
      assert.equal(viaBasic.status, 403);
      assert.equal(errorCode(viaBasic), 'DENIED');
    });

    test('HTTP Basic works directly on /v2 routes, for users and robots', async () => {
      assert.equal((await http('GET', `${ctx.base}/v2/`, { headers: basic(dev.name, dev.password) })).status, 200);
      const blob = randomBlob(64);
      const response = await http('POST', `${ctx.base}/v2/ci/app/blobs/uploads/?digest=${blob.digest}`, { headers: basic('ci-bot', robotSecret), body: blob.bytes });
      assert.equal(response.status, 201);
    });

    test('wrong password: 401 at /token and on /v2, with a challenge', async () => {
      const token = await http('GET', `${ctx.base}/token?service=cairn&scope=repository:team/app:pull`, { headers: basic(dev.name, 'wrong-password') });
      assert.equal(token.status, 401);
      assert.equal(errorCode(token), 'UNAUTHORIZED');
      const direct = await http('GET', `${ctx.base}/v2/team/app/tags/list`, { headers: basic(dev.name, 'wrong-password') });
      assert.equal(direct.status, 401);
      assert.ok(direct.headers['www-authenticate']);
      const unknown = await http('GET', `${ctx.base}/v2/`, { headers: basic('nobody', 'whatever-password') });
      assert.equal(unknown.status, 401);
    });

    test('a malformed Authorization header is 401, not 500', async () => {
      for (const header of ['Basic !!!', 'Basic ' + Buffer.from('nocolon').toString('base64'), 'Digest abc', 'Bearer']) {
        const response = await http('GET', `${ctx.base}/v2/`, { headers: { authorization: header } });
        assert.equal(response.status, 401, header);
      }
    });

    test('a token signed by another key is invalid_token', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }] })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer('cairn')
        .setAudience('cairn')
        .setSubject('admin')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      const response = await http('GET', `${ctx.base}/v2/team/app/tags/list`, { headers: bearer(forged) });
      assert.equal(response.status, 401);
      assert.equal(parseChallenge(response.headers['www-authenticate']).error, 'invalid_token');
    });

    test('an expired token, or one for another service, is invalid_token', async () => {
      const key = await importPKCS8(await readFile(join(ctx.server.dataDir, 'auth', 'token-signing-key.pem'), 'utf8'), 'ES256');
      const claims = { access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] };
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setIssuer('cairn').setAudience('cairn').setIssuedAt(now - 600).setExpirationTime(now - 300).sign(key);
      const otherService = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setIssuer('cairn').setAudience('elsewhere').setIssuedAt().setExpirationTime('5m').sign(key);
      for (const token of [expired, otherService]) {
        const response = await http('GET', `${ctx.base}/v2/team/app/tags/list`, { headers: bearer(token) });
        assert.equal(response.status, 401);
        assert.equal(parseChallenge(response.headers['www-authenticate']).error, 'invalid_token');
      }
    });

    test('a disabled account can no longer log in', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', { name: 'leaver', password: 'leaver-password' })).status, 201);
      assert.equal((await http('GET', `${ctx.base}/v2/`, { headers: basic('leaver', 'leaver-password') })).status, 200);
      assert.equal((await admin(ctx.base, 'PATCH', '/users/leaver', { disabled: true })).status, 200);
      assert.equal((await http('GET', `${ctx.base}/v2/`, { headers: basic('leaver', 'leaver-password') })).status, 401);
      const token = await http('GET', `${ctx.base}/token?service=cairn`, { headers: basic('leaver', 'leaver-password') });
      assert.equal(token.status, 401);
    });

    test('anonymous pull where granted; anonymous push never', async () => {
      const image = makeImage();
      const token = await tokenFor(ctx.base, ['repository:public/app:pull,push'], basic('admin', ADMIN_PASSWORD));
      for (const blob of [image.config, ...image.layers]) {
        const r = await http('POST', `${ctx.base}/v2/public/app/blobs/uploads/?digest=${blob.digest}`, { headers: bearer(token), body: blob.bytes });
        assert.equal(r.status, 201);
      }
      const put = await http('PUT', `${ctx.base}/v2/public/app/manifests/v1`, {
        headers: { ...bearer(token), 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: image.manifest.bytes,
      });
      assert.equal(put.status, 201, put.text());
      const pulled = await http('GET', `${ctx.base}/v2/public/app/manifests/v1`);
      assert.equal(pulled.status, 200);
      assert.deepEqual(pulled.body, image.manifest.bytes);
      const push = await http('POST', `${ctx.base}/v2/public/app/blobs/uploads/`);
      assert.equal(push.status, 401);
    });

    test('mount from a repository the caller cannot pull falls back to an upload (202)', async () => {
      const blob = randomBlob(50);
      const adminPush = await tokenFor(ctx.base, ['repository:secret/app:pull,push'], basic('admin', ADMIN_PASSWORD));
      assert.equal((await http('POST', `${ctx.base}/v2/secret/app/blobs/uploads/?digest=${blob.digest}`, { headers: bearer(adminPush), body: blob.bytes })).status, 201);
      const devToken = await tokenFor(ctx.base, ['repository:team/app:pull,push', 'repository:secret/app:pull'], basic(dev.name, dev.password));
      const mount = await http('POST', `${ctx.base}/v2/team/app/blobs/uploads/?mount=${blob.digest}&from=secret/app`, { headers: bearer(devToken) });
      assert.equal(mount.status, 202);
      const adminBoth = await tokenFor(ctx.base, ['repository:team/app:pull,push', 'repository:secret/app:pull'], basic('admin', ADMIN_PASSWORD));
      const allowed = await http('POST', `${ctx.base}/v2/team/app/blobs/uploads/?mount=${blob.digest}&from=secret/app`, { headers: bearer(adminBoth) });
      assert.equal(allowed.status, 201);
    });

    test('an automatic mount (no from) takes a blob only from a repository the caller may pull', async () => {
      const blob = randomBlob(60);
      const adminPush = await tokenFor(ctx.base, ['repository:secret/auto:pull,push'], basic('admin', ADMIN_PASSWORD));
      assert.equal((await http('POST', `${ctx.base}/v2/secret/auto/blobs/uploads/?digest=${blob.digest}`, { headers: bearer(adminPush), body: blob.bytes })).status, 201);
      const asDev = await http('POST', `${ctx.base}/v2/team/app/blobs/uploads/?mount=${blob.digest}`, { headers: basic(dev.name, dev.password) });
      assert.equal(asDev.status, 202, 'the only source is one dev cannot pull: an upload, and no hint the blob exists');
      assert.equal((await http('HEAD', `${ctx.base}/v2/team/app/blobs/${blob.digest}`, { headers: basic(dev.name, dev.password) })).status, 404);
      const asAdmin = await http('POST', `${ctx.base}/v2/team/app/blobs/uploads/?mount=${blob.digest}`, { headers: basic('admin', ADMIN_PASSWORD) });
      assert.equal(asAdmin.status, 201);
      assert.equal((await http('HEAD', `${ctx.base}/v2/team/app/blobs/${blob.digest}`, { headers: basic(dev.name, dev.password) })).status, 200);
    });

    test('the catalog lists only repositories the caller may pull', async () => {
      const token = await tokenFor(ctx.base, ['registry:catalog:*'], basic(reader.name, reader.password));
      const response = await http('GET', `${ctx.base}/v2/_catalog`, { headers: bearer(token) });
      assert.equal(response.status, 200, response.text());
      const repositories: string[] = response.json().repositories;
      assert.ok(repositories.includes('team/app'), repositories.join());
      assert.ok(repositories.includes('public/app'));
      assert.ok(!repositories.includes('secret/app'));
      assert.ok(!repositories.includes('ci/app'));
      const all = await http('GET', `${ctx.base}/v2/_catalog`, { headers: basic('admin', ADMIN_PASSWORD) });
      assert.ok(all.json().repositories.includes('secret/app'));
      // Page by page (n=1): the same visible names, a Link header exactly while more follow.
      const walked: string[] = [];
      let url: string | undefined = '/v2/_catalog?n=1';
      while (url) {
        const page = await http('GET', `${ctx.base}${url}`, { headers: bearer(token) });
        assert.equal(page.status, 200, page.text());
        walked.push(...(page.json().repositories as string[]));
        url = page.headers.link ? /^<([^>]+)>; rel="next"$/.exec(page.headers.link)?.[1] : undefined;
        assert.ok(walked.length <= repositories.length);
      }
      assert.deepEqual(walked, repositories);
    });

    test('OAuth2 POST /token: password grant with refresh token, then refresh_token grant', async () => {
      const form = new URLSearchParams({ grant_type: 'password', username: dev.name, password: dev.password, service: 'cairn', scope: 'repository:team/app:pull', client_id: 'test' });
      const first = await http('POST', `${ctx.base}/token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      assert.equal(first.status, 200, first.text());
      assert.ok(first.json().refresh_token);
      assert.deepEqual(accessClaim(first.json().access_token)[0]!.actions, ['pull']);
      const refresh = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.json().refresh_token, service: 'cairn', scope: 'repository:team/app:push' });
      const second = await http('POST', `${ctx.base}/token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: refresh.toString() });
      assert.equal(second.status, 200);
      assert.deepEqual(accessClaim(second.json().access_token)[0]!.actions, ['push']);
      const badGrant = await http('POST', `${ctx.base}/token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=magic' });
      assert.equal(badGrant.status, 400);
      assert.equal(badGrant.json().error, 'unsupported_grant_type');
      const wrong = new URLSearchParams({ grant_type: 'password', username: dev.name, password: 'nope-nope', service: 'cairn' });
      assert.equal((await http('POST', `${ctx.base}/token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: wrong.toString() })).status, 401);
      // A refresh token is not an access token.
      const misuse = await http('GET', `${ctx.base}/v2/team/app/tags/list`, { headers: bearer(first.json().refresh_token) });
      assert.equal(misuse.status, 401);
    });

    test('personal access tokens: usable as a password until revoked or expired', async () => {
      const created = await admin(ctx.base, 'POST', '/accounts/dev/tokens', { name: 'laptop' });
      assert.equal(created.status, 201);
      const secret = created.json().secret;
      assert.match(secret, /^cairn_pat_/);
      assert.equal((await http('GET', `${ctx.base}/v2/`, { headers: basic('dev', secret) })).status, 200);
      assert.equal((await http('GET', `${ctx.base}/v2/`, { headers: basic('reader', secret) })).status, 401);
      const listed = await admin(ctx.base, 'GET', '/accounts/dev/tokens');
      assert.equal(listed.json().tokens[0].name, 'laptop');
      assert.ok(!JSON.stringify(listed.json()).includes(secret));
      assert.equal((await admin(ctx.base, 'DELETE', '/accounts/dev/tokens/laptop')).status, 204);
      // A revoked token stops working once the 30-second credential cache forgets it; a new
      // pairing with a fresh secret proves the revocation itself without waiting.
      const other = (await admin(ctx.base, 'POST', '/accounts/dev/tokens', { name: 'soon', expiresAt: new Date(Date.now() + 1500).toISOString() })).json().secret;
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await http('GET', `${ctx.base}/v2/`, { headers: basic('dev', other) })).status, 401);
      const past = await admin(ctx.base, 'POST', '/accounts/dev/tokens', { name: 'past', expiresAt: '2020-01-01T00:00:00Z' });
      assert.equal(past.status, 400);
    });

    test('admin API: non-admins are 403, no credentials 401, bad bodies 400, conflicts 409', async () => {
      const asDev = await http('GET', `${ctx.base}/api/v1/users`, { headers: basic(dev.name, dev.password) });
      assert.equal(asDev.status, 403);
      assert.equal(asDev.json().error.code, 'forbidden');
      const anonymous = await http('GET', `${ctx.base}/api/v1/users`);
      assert.equal(anonymous.status, 401);
      const bad = await admin(ctx.base, 'POST', '/users', { name: 'Bad Name', password: 'x' });
      assert.equal(bad.status, 400);
      assert.equal(bad.json().error.code, 'invalid_request');
      const dup = await admin(ctx.base, 'POST', '/users', dev);
      assert.equal(dup.status, 409);
      const missing = await admin(ctx.base, 'PATCH', '/users/ghost', { disabled: true });
      assert.equal(missing.status, 404);
      const badPattern = await admin(ctx.base, 'POST', '/permissions', { account: 'dev', pattern: '../etc', actions: ['pull'] });
      assert.equal(badPattern.status, 400);
      const openapi = await http('GET', `${ctx.base}/api/v1/openapi.json`);
      assert.equal(openapi.status, 200);
      assert.equal(openapi.json().openapi, '3.1.0');
    });

    test('robot secrets rotate: the old one stops working', async () => {
      const rotated = await admin(ctx.base, 'POST', '/robots/ci-bot/secret');
      assert.equal(rotated.status, 200);
      const fresh = rotated.json().secret;
      assert.notEqual(fresh, robotSecret);
      assert.equal((await http('GET', `${ctx.base}/token?service=cairn`, { headers: basic('ci-bot', fresh) })).status, 200);
      // The old secret was cached by earlier requests for up to 30 s; a token request with a
      // never-used wrong variant shows the hash no longer matches.
      assert.equal((await http('GET', `${ctx.base}/token?service=cairn`, { headers: basic('ci-bot', `${robotSecret}x`) })).status, 401);
      robotSecret = fresh;
    });

    test('audit log records logins, failures, token grants, pushes, deletes and admin changes', async () => {
      const events = (await admin(ctx.base, 'GET', '/audit-events?limit=1000')).json().events as Array<{ action: string; actor: string; actorKind: string; clientIp: string | null }>;
      const actions = new Set(events.map((e) => e.action));
      for (const a of ['login', 'login_failed', 'token_issued', 'push', 'user.create', 'permission.grant']) {
        assert.ok(actions.has(a), `missing ${a} in ${[...actions].join(', ')}`);
      }
      // Every event names its actor; all but Cairn's own (the admin from CAIRN_ADMIN_PASSWORD) came from an address.
      assert.ok(events.every((e) => e.actor && (e.clientIp || e.actorKind === 'system')));
      const devOnly = (await admin(ctx.base, 'GET', '/audit-events?actor=dev')).json().events as Array<{ actor: string }>;
      assert.ok(devOnly.length > 0 && devOnly.every((e) => e.actor === 'dev'));
    });

    test('brute force: failed logins are rate-limited per account with 429 and Retry-After', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', { name: 'target', password: 'target-password' })).status, 201);
      let limited;
      for (let i = 0; i < 15; i++) {
        const response = await http('GET', `${ctx.base}/token?service=cairn`, { headers: basic('target', `guess-${i}`) });
        if (response.status === 429) {
          limited = response;
          break;
        }
        assert.equal(response.status, 401);
      }
      assert.ok(limited, 'never rate-limited');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.equal(errorCode(limited), 'TOOMANYREQUESTS');
      // Even the right password is refused while the account is locked out.
      const right = await http('GET', `${ctx.base}/token?service=cairn`, { headers: basic('target', 'target-password') });
      assert.equal(right.status, 429);
    });

    test('no secret ever appears in the logs', async () => {
      const logs = ctx.server.logs.join('\n');
      for (const secret of [ADMIN_PASSWORD, dev.password, reader.password, robotSecret]) assert.ok(!logs.includes(secret), 'secret in logs');
      assert.ok(!/eyJhbGciOi/.test(logs), 'a token in logs');
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD, CAIRN_MAX_FAILED_LOGINS: '5' } },
);
