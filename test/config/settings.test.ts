/** The settings table drives the environment reader and the config-file checks: adding a setting is one entry. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, fromEnvironment, fromFile, resolveConfig } from '../../src/config/config.js';
import { SETTING_KEYS, SETTINGS, type SettingKind } from '../../src/config/settings.js';

const SAMPLE: Record<SettingKind, unknown> = { string: 'x', number: 7, boolean: true, list: ['a', 'b'] };

async function withFile<T>(content: unknown, use: (path: string) => T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-settings-'));
  try {
    const path = join(dir, 'cairn.json');
    await writeFile(path, JSON.stringify(content));
    return use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every setting is a known config-file key, and every misspelling of one suggests it', async () => {
  const all = Object.fromEntries(SETTING_KEYS.map((key) => [key, SAMPLE[SETTINGS[key].kind]]));
  await withFile(all, (path) => assert.deepEqual(Object.keys(fromFile(path).values).sort(), [...SETTING_KEYS].sort()));
  for (const key of SETTING_KEYS) {
    const typo = key.slice(0, -1);
    await withFile({ [typo]: 1 }, (path) =>
      assert.throws(() => fromFile(path), { message: `unknown config key "${typo}" in ${path} (did you mean "${key}"?)` }),
    );
  }
});

test('every setting is read from its environment variables, and a value names the variable it came from', () => {
  for (const key of SETTING_KEYS) {
    for (const variable of SETTINGS[key].env) {
      const source = fromEnvironment({ [variable]: 'v' });
      assert.equal(source.values[key], 'v', variable);
      assert.equal(source.where(key), variable);
    }
  }
  // The strongest variable wins: CAIRN_S3_REGION over AWS_REGION.
  const region = fromEnvironment({ AWS_REGION: 'eu-west-1', CAIRN_S3_REGION: 'eu-west-3' });
  assert.equal(region.values.s3Region, 'eu-west-3');
});

test('flags over the environment over the file; the error names the strongest source', async () => {
  const env = fromEnvironment({ CAIRN_LOG_LEVEL: 'verbose' });
  assert.equal(resolveConfig({ logLevel: 'warn' }, env).logLevel, 'warn');
  assert.throws(() => resolveConfig(env, { logLevel: 'warn' }), { message: /^CAIRN_LOG_LEVEL: "verbose" is not a log level/ });
  await withFile({ logLevel: 'loud' }, (path) => {
    assert.equal(resolveConfig(fromEnvironment({ CAIRN_LOG_LEVEL: 'debug' }), fromFile(path)).logLevel, 'debug');
    assert.throws(() => resolveConfig(fromEnvironment({}), fromFile(path)), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `logLevel in ${path}: "loud" is not a log level (fatal, error, warn, info, debug, trace)`);
      return true;
    });
  });
});

test('values are checked: listen addresses, URLs, numbers; secrets never quoted', () => {
  const config = resolveConfig({ listen: '[::1]:0', databaseUrl: 'postgresql://u:p@db:5432/cairn', uploadExpiryHours: '0.5' });
  assert.deepEqual(config.listen, { host: '::1', port: 0 });
  assert.equal(config.databaseUrl, 'postgresql://u:p@db:5432/cairn');
  assert.equal(config.uploadExpiryMs, 1_800_000);
  assert.deepEqual(resolveConfig({ listen: 'registry.local:5000' }).listen, { host: 'registry.local', port: 5000 });
  assert.throws(() => resolveConfig({ databaseUrl: 'postgres://u:topsecret@bad host/db' }), (error: unknown) => {
    assert.equal((error as Error).message, 'databaseUrl: not a PostgreSQL URL (e.g. postgres://USER:PASSWORD@HOST:5432/DATABASE)');
    return true;
  });
  assert.throws(() => resolveConfig({ adminPassword: 'tiny' }), { message: 'adminPassword: too short: passwords need at least 8 characters' });
  assert.throws(() => resolveConfig({ tokenLifetimeSeconds: '' + 1.5 }), { message: 'tokenLifetimeSeconds: "1.5" is not a whole number ≥ 1' });
});
