/**
 * docker-compose.yml: valid for Debian's docker-compose (`docker-compose config`), loud about a
 * missing secret, and speaking Cairn's own settings. Images cannot be pulled here, so nothing is
 * started: this checks the file, the way `docker-compose up` would read it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { SETTINGS } from '../../src/config/settings.js';
import { ROOT } from '../support/cli.js';
import { deployTool, runTool } from './tools.js';

/** Every secret the file requires, with a value good enough for each. */
const SECRETS: Record<string, string> = {
  POSTGRES_PASSWORD: 'pg-password',
  CAIRN_S3_ACCESS_KEY: 'cairn-access-key',
  CAIRN_S3_SECRET_KEY: 'cairn-secret-key',
  CAIRN_ADMIN_PASSWORD: 'admin-password',
};

/** The settings' environment variables: the only names Cairn reads. */
const CAIRN_ENV: ReadonlySet<string> = new Set(Object.values(SETTINGS).flatMap((s) => [...s.env]));

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  restart?: string;
  read_only?: boolean;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

/** The caller's environment without anything the file reads (so each case sets exactly what it names). */
function composeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CAIRN_|POSTGRES_|DATABASE_URL$|AWS_|COMPOSE_)/.test(k)));
  return { ...base, ...extra };
}

describe('docker-compose.yml', () => {
  const tool = deployTool('docker-compose');
  const skip = 'skip' in tool ? tool.skip : false;
  const compose = (args: string[], env: Record<string, string>) =>
    runTool('path' in tool ? tool.path : 'docker-compose', ['--file', 'docker-compose.yml', ...args], { cwd: ROOT, env: composeEnv(env) });

  let source: string;
  let config: Compose;
  before(async () => {
    source = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
    if (skip) return;
    const result = await compose(['config'], SECRETS);
    assert.equal(result.code, 0, result.stderr);
    config = parse(result.stdout) as Compose;
  });

  test('docker-compose config -q accepts it with the secrets set', { skip }, async () => {
    const result = await compose(['config', '-q'], SECRETS);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
  });

  test('each missing secret fails loudly, naming it', { skip }, async () => {
    const required = [...source.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!);
    assert.deepEqual([...new Set(required)].sort(), Object.keys(SECRETS).sort(), 'the secrets the file requires');
    for (const name of Object.keys(SECRETS)) {
      const { [name]: _missing, ...rest } = SECRETS;
      const result = await compose(['config', '-q'], rest);
      assert.notEqual(result.code, 0, `${name} unset`);
      assert.match(result.stderr, new RegExp(`set ${name}\\b`), result.stderr);
      // The error names the variable, and echoes none of the secrets that are set.
      for (const value of Object.values(rest)) assert.ok(!result.stderr.includes(value), `${name} unset: stderr shows a secret`);
    }
  });

  test('the secrets reach Cairn under the names its settings read', { skip }, () => {
    const env = config.services.cairn?.environment ?? {};
    const unknown = Object.keys(env).filter((name) => !CAIRN_ENV.has(name));
    assert.deepEqual(unknown, [], 'environment names Cairn does not read (src/config/settings.ts)');
    assert.equal(env.CAIRN_ADMIN_PASSWORD, SECRETS.CAIRN_ADMIN_PASSWORD);
    assert.equal(env.AWS_ACCESS_KEY_ID, SECRETS.CAIRN_S3_ACCESS_KEY);
    assert.equal(env.AWS_SECRET_ACCESS_KEY, SECRETS.CAIRN_S3_SECRET_KEY);
    assert.equal(env.DATABASE_URL, `postgres://cairn:${SECRETS.POSTGRES_PASSWORD}@postgres:5432/cairn`);
    assert.equal(env.CAIRN_STORAGE, 's3');
    // The S3 server Cairn signs for is the one started here, with the same credentials.
    const s3 = config.services.s3?.environment ?? {};
    assert.equal(env.CAIRN_S3_ENDPOINT, 'http://s3:9000');
    assert.equal(s3.MINIO_ROOT_USER, SECRETS.CAIRN_S3_ACCESS_KEY);
    assert.equal(s3.MINIO_ROOT_PASSWORD, SECRETS.CAIRN_S3_SECRET_KEY);
    assert.equal(config.services.postgres?.environment?.POSTGRES_PASSWORD, SECRETS.POSTGRES_PASSWORD);
  });

  test('health checks gate the start order: PostgreSQL ready, bucket created, then Cairn', { skip }, () => {
    const { cairn, postgres, s3 } = config.services;
    assert.ok(cairn && postgres && s3);
    assert.deepEqual(cairn.depends_on, {
      postgres: { condition: 'service_healthy' },
      's3-bucket': { condition: 'service_completed_successfully' },
    });
    assert.deepEqual(config.services['s3-bucket']?.depends_on, { s3: { condition: 'service_healthy' } });
    assert.ok(cairn.healthcheck?.test.join(' ').includes('/readyz'), 'Cairn is healthy when /readyz says so');
    assert.ok(postgres.healthcheck?.test.includes('pg_isready'));
    assert.ok(s3.healthcheck?.test.length);
    assert.ok(cairn.build, 'Cairn is built from the Dockerfile');
    assert.equal(cairn.read_only, true);
  });

  test('everything that holds data is on a named volume', { skip }, () => {
    const mounts = (name: string) => (config.services[name]?.volumes ?? []).map((v) => v.split(':').slice(0, 2).join(':'));
    const dataDir = config.services.cairn?.environment?.CAIRN_DATA_DIR;
    assert.deepEqual(mounts('cairn'), [`cairn-data:${dataDir}`]);
    assert.deepEqual(mounts('postgres'), ['postgres-data:/var/lib/postgresql/data']);
    assert.deepEqual(mounts('s3'), ['s3-data:/data']);
    assert.deepEqual(Object.keys(config.volumes).sort(), ['cairn-data', 'postgres-data', 's3-data']);
  });
});
