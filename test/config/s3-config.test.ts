/** Storage settings: S3 from the environment, flags and a config file; validation; secrets never described. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, describeConfig, fromEnvironment, resolveConfig } from '../../src/config/config.js';

const S3_ENV = {
  CAIRN_STORAGE: 's3',
  CAIRN_S3_ENDPOINT: 'http://127.0.0.1:9100',
  CAIRN_S3_BUCKET: 'registry',
  CAIRN_S3_REGION: 'eu-west-3',
  CAIRN_S3_PREFIX: 'cairn/',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'very-secret',
};

test('the filesystem is the default storage', () => {
  assert.deepEqual(resolveConfig(fromEnvironment({})).storage, { kind: 'filesystem' });
});

test('CAIRN_STORAGE=s3 with the CAIRN_S3_* and AWS_* variables', () => {
  const storage = resolveConfig(fromEnvironment(S3_ENV)).storage;
  assert.deepEqual(storage, {
    kind: 's3',
    endpoint: 'http://127.0.0.1:9100',
    bucket: 'registry',
    region: 'eu-west-3',
    prefix: 'cairn/',
    forcePathStyle: true,
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'very-secret',
    partSize: 16 * 1024 * 1024,
    redirectSeconds: 0,
    maxAttempts: 5,
  });
});

test('without an endpoint: AWS, virtual-host style; CAIRN_S3_FORCE_PATH_STYLE overrides', () => {
  const { CAIRN_S3_ENDPOINT: _omit, ...env } = S3_ENV;
  const aws = resolveConfig(fromEnvironment(env)).storage;
  assert.equal(aws.kind === 's3' && aws.endpoint, 'https://s3.eu-west-3.amazonaws.com');
  assert.equal(aws.kind === 's3' && aws.forcePathStyle, false);
  const forced = resolveConfig(fromEnvironment({ ...env, CAIRN_S3_FORCE_PATH_STYLE: 'true' })).storage;
  assert.equal(forced.kind === 's3' && forced.forcePathStyle, true);
});

test('flags beat the environment, which beats the config file', () => {
  const config = resolveConfig({ storage: 'filesystem' }, fromEnvironment(S3_ENV), { storage: 's3' });
  assert.equal(config.storage.kind, 'filesystem');
  const fromFile = resolveConfig(fromEnvironment({}), {
    storage: 's3',
    s3Bucket: 'b',
    s3AccessKeyId: 'k',
    s3SecretAccessKey: 's',
    s3PartSize: 8 * 1024 * 1024,
    s3RedirectSeconds: 300,
  });
  assert.equal(fromFile.storage.kind === 's3' && fromFile.storage.partSize, 8 * 1024 * 1024);
  assert.equal(fromFile.storage.kind === 's3' && fromFile.storage.redirectSeconds, 300);
});

test('invalid S3 settings are refused with the setting named', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ CAIRN_S3_BUCKET: '' }, /CAIRN_S3_BUCKET/],
    [{ AWS_SECRET_ACCESS_KEY: '' }, /AWS_SECRET_ACCESS_KEY/],
    [{ CAIRN_S3_PART_SIZE: '1048576' }, /at least 5242880/],
    [{ CAIRN_S3_FORCE_PATH_STYLE: 'maybe' }, /true or false/],
    [{ CAIRN_STORAGE: 'tape' }, /CAIRN_STORAGE: "tape" is not a storage kind \(filesystem, s3\)/],
  ];
  for (const [override, message] of cases) {
    assert.throws(() => resolveConfig(fromEnvironment({ ...S3_ENV, ...override })), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  }
});

test('describeConfig never shows the credentials', () => {
  const described = JSON.stringify(describeConfig(resolveConfig(fromEnvironment({ ...S3_ENV, AWS_SESSION_TOKEN: 'tok-123' }))));
  assert.doesNotMatch(described, /very-secret|tok-123|AKIDEXAMPLE/);
  assert.match(described, /"bucket":"registry"/);
});
