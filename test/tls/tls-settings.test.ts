// TLS settings and `cairn tls self-signed` mistakes: one line and exit status 2, before anything opens.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { assertUserError, cairn } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-tls-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a certificate without its key (or the reverse) is refused, naming the setting', () => {
  assert.throws(() => resolveConfig({ tlsCert: 'server.crt' }), { message: /^tlsCert: "server\.crt" needs a private key too/ });
  assert.throws(() => resolveConfig({ tlsKey: 'server.key' }), { message: /^tlsKey: "server\.key" needs a certificate too/ });
  const config = resolveConfig({ tlsCert: 'a.crt', tlsKey: 'a.key' });
  assert.ok(config.tls?.cert.endsWith('/a.crt') && config.tls.key.endsWith('/a.key'));
  assert.equal(resolveConfig({}).tls, undefined);
});

test('serve refuses a missing file, a file that is no certificate, and a key of another certificate', async () => {
  const out = join(dir, 'lab');
  const made = await cairn(['tls', 'self-signed', '--host', 'registry.lab', '--out', out]);
  assert.equal(made.status, 0, made.stderr);
  const args = (cert: string, key: string) => ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--tls-cert', cert, '--tls-key', key];
  assertUserError(await cairn(args(join(out, 'nope.crt'), join(out, 'server.key'))), /^cairn: TLS: cannot read the TLS certificate .*nope\.crt: no such file\n$/);
  writeFileSync(join(dir, 'junk.crt'), 'not a certificate');
  assertUserError(await cairn(args(join(dir, 'junk.crt'), join(out, 'server.key'))), /^cairn: TLS: .*junk\.crt holds no PEM certificate/);
  assertUserError(await cairn(args(join(out, 'server.crt'), join(out, 'ca.key'))), /^cairn: TLS: the key in .*ca\.key does not belong to the certificate/);
  assertUserError(await cairn(['serve', '--tls-cert', join(out, 'server.crt')]), /^cairn: --tls-cert: ".*server\.crt" needs a private key too/);
});

test('tls self-signed: a CA reused on renewal, and mistakes in one line', async () => {
  const out = join(dir, 'renew');
  assert.equal((await cairn(['tls', 'self-signed', '--host', '10.0.0.5,registry.lab', '--out', out])).status, 0);
  const ca = readFileSync(join(out, 'ca.crt'), 'utf8');
  const first = readFileSync(join(out, 'server.crt'), 'utf8');
  const again = await cairn(['tls', 'self-signed', '--host', 'registry.lab', '--out', out]);
  assert.match(again.stdout, /^Reused the CA/);
  assert.equal(readFileSync(join(out, 'ca.crt'), 'utf8'), ca);
  assert.notEqual(readFileSync(join(out, 'server.crt'), 'utf8'), first);
  assertUserError(await cairn(['tls', 'self-signed']), /needs --host NAME/);
  assertUserError(await cairn(['tls', 'self-signed', '--host', 'bad_name!']), /--host: "bad_name!" is not a host name or IP address/);
  assertUserError(await cairn(['tls', 'self-signed', '--host', 'a', '--port', '70000']), /--port: "70000" is not a port/);
  assertUserError(await cairn(['tls', 'self-signd']), /unknown/);
});
