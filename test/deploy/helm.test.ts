/**
 * charts/cairn: `helm lint --strict`, `helm template` with the default values (refused, naming
 * what a release must set), with the least a release needs (charts/cairn/ci/minimal-values.yaml)
 * and with everything on (ci/full-values.yaml: ingress with TLS, HPA, ServiceMonitor, secrets kept
 * outside the chart); every rendered manifest is checked against the Kubernetes v1.30 API
 * (kubernetes-check.ts), and what it says is checked against Cairn: its settings, probes,
 * security context, migrations and the shared token signing key.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { SETTINGS } from '../../src/config/settings.js';
import { basic, bearer, tokenFor } from '../support/auth.js';
import { ROOT } from '../support/cli.js';
import { startCairn, testDatabases } from '../support/registry.js';
import { checkManifests, type Manifest } from './kubernetes-check.js';
import { deployTool, runTool } from './tools.js';

const CHART = join(ROOT, 'charts', 'cairn');
const MINIMAL = join(CHART, 'ci', 'minimal-values.yaml');
const FULL = join(CHART, 'ci', 'full-values.yaml');
const CAIRN_ENV: ReadonlySet<string> = new Set(Object.values(SETTINGS).flatMap((s) => [...s.env]));

interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }>;
  securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
  startupProbe?: { httpGet: { path: string } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: Array<{ name: string; secret?: { secretName: string } }>;
}

describe('charts/cairn', () => {
  const tool = deployTool('helm');
  const skip = 'skip' in tool ? tool.skip : false;
  const helm = (args: string[]) => runTool('path' in tool ? tool.path : 'helm', args, { cwd: ROOT });

  async function render(...valueFiles: string[]): Promise<Manifest[]> {
    const result = await helm(['template', 'reg', CHART, '--namespace', 'registry', ...valueFiles.flatMap((f) => ['--values', f])]);
    assert.equal(result.code, 0, result.stderr);
    return parseAllDocuments(result.stdout)
      .map((doc) => doc.toJS() as Manifest | null)
      .filter((m): m is Manifest => m !== null);
  }
  const find = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);
  const one = (manifests: Manifest[], kind: string) => {
    const found = find(manifests, kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0]!;
  };
  const podSpec = (m: Manifest) => (m.spec as { template: { spec: PodSpec } }).template.spec;
  const env = (c: Container) => new Map((c.env ?? []).map((e) => [e.name, e]));

  let minimal: Manifest[];
  let full: Manifest[];
  before(async () => {
    if (skip) return;
    [minimal, full] = await Promise.all([render(MINIMAL), render(FULL)]);
  });

  test('helm lint --strict passes with the default, minimal and full values', { skip }, async () => {
    for (const values of [[], ['--values', MINIMAL], ['--values', FULL]]) {
      const result = await helm(['lint', '--strict', CHART, ...values]);
      assert.equal(result.code, 0, `${values.join(' ')}\n${result.stdout}${result.stderr}`);
      assert.doesNotMatch(result.stdout, /\[(WARNING|ERROR)\]/);
    }
  });

  test('the default values render nothing: the release must name its PostgreSQL and bucket', { skip }, async () => {
    const result = await helm(['template', 'reg', CHART]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /database\.url or database\.existingSecret is required/);
  });

  test('values.schema.json refuses misspelt and malformed values', { skip }, async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 's3.bukket=x'], /additional properties 'bukket' not allowed/],
      [['--set', 'admin.password=short'], /\/admin\/password/],
      [['--set', 'database.url=mysql://db/cairn'], /\/database\/url/],
      [['--set', 'replicaCount=0'], /\/replicaCount/],
      [['--set', 'config.logLevel=verbose'], /\/config\/logLevel/],
    ];
    for (const [args, message] of cases) {
      const result = await helm(['template', 'reg', CHART, '--values', MINIMAL, ...args]);
      assert.notEqual(result.code, 0, args.join(' '));
      assert.match(result.stderr, message);
    }
  });

  test('every rendered manifest is valid for the Kubernetes v1.30 API', { skip }, async () => {
    assert.deepEqual(await checkManifests([...minimal, ...full]), []);
  });

  test('the check refuses what the API server would: a misplaced field, a wrong type, a missing field, an unknown kind', { skip }, async () => {
    const deployment = structuredClone(one(minimal, 'Deployment'));
    const spec = podSpec(deployment);
    spec.securityContext = { ...spec.securityContext, readOnlyRootFilesystem: true }; // a container field, not a pod one
    (deployment.spec as Record<string, unknown>).replicas = '2';
    const job = structuredClone(one(minimal, 'Job'));
    delete (podSpec(job).containers[0] as Partial<Container>).name;
    const monitor = structuredClone(one(full, 'ServiceMonitor'));
    (monitor.spec as Record<string, unknown>).endpoint = [];
    const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    const problems = await checkManifests([deployment, job, monitor, unknown]);
    const text = problems.join('\n');
    assert.match(text, /Deployment\/reg-cairn: .*'"readOnlyRootFilesystem"' does not exist in type 'PodSecurityContext'/);
    assert.match(text, /Deployment\/reg-cairn: .*Type 'string' is not assignable to type 'number'/);
    assert.match(text, /Job\/reg-cairn-migrate: .*Property 'name' is missing/);
    assert.match(text, /ServiceMonitor\/reg-cairn: .*'"endpoint"' does not exist in type 'ServiceMonitorSpec'/);
    assert.equal(problems.length, 5, text);
    assert.match(text, /Widget\/w: no Kubernetes v1.30 API has apiVersion example.com\/v1/);
  });

  test('minimal values: the registry, its Service, a PDB, the migration hook and a Secret; nothing optional', { skip }, () => {
    const kinds = minimal.map((m) => m.kind).sort();
    assert.deepEqual(kinds, ['Deployment', 'Job', 'PodDisruptionBudget', 'Secret', 'Service', 'ServiceAccount']);
    const deployment = one(minimal, 'Deployment');
    assert.equal((deployment.spec as { replicas: number }).replicas, 2);
  });

  test('full values: ingress with TLS, autoscaling instead of a fixed count, a ServiceMonitor, no chart Secret', { skip }, () => {
    const ingress = one(full, 'Ingress').spec as { tls: Array<{ secretName: string; hosts: string[] }>; rules: Array<{ host: string }> };
    assert.deepEqual(ingress.tls, [{ secretName: 'registry-example-com-tls', hosts: ['registry.example.com'] }]);
    assert.equal(ingress.rules[0]?.host, 'registry.example.com');
    const hpa = one(full, 'HorizontalPodAutoscaler').spec as { minReplicas: number; maxReplicas: number; metrics: unknown[]; scaleTargetRef: { name: string } };
    assert.deepEqual([hpa.minReplicas, hpa.maxReplicas, hpa.metrics.length, hpa.scaleTargetRef.name], [3, 12, 2, 'reg-cairn']);
    const deployment = one(full, 'Deployment');
    assert.equal((deployment.spec as { replicas?: number }).replicas, undefined, 'the HPA owns the replica count');
    const monitor = one(full, 'ServiceMonitor');
    assert.equal(monitor.metadata.labels?.release, 'prometheus');
    const endpoint = (monitor.spec as { endpoints: Array<{ path: string; port: string; basicAuth: unknown }> }).endpoints[0]!;
    assert.deepEqual([endpoint.path, endpoint.port], ['/metrics', 'http']);
    assert.deepEqual(endpoint.basicAuth, { username: { name: 'cairn-metrics-credentials', key: 'username' }, password: { name: 'cairn-metrics-credentials', key: 'password' } });
    assert.equal(find(full, 'Secret').length, 0, 'every secret is an existing one');
    assert.deepEqual((one(full, 'PodDisruptionBudget').spec as { minAvailable: number }).minAvailable, 2);
    // The external URL (token realm) follows the ingress host, https because its TLS names it.
    const cairn = env(podSpec(deployment).containers[0]!);
    assert.equal(cairn.get('CAIRN_EXTERNAL_URL')?.value, 'https://registry.example.com');
    assert.deepEqual(cairn.get('DATABASE_URL')?.valueFrom?.secretKeyRef, { name: 'cairn-database', key: 'url' });
    assert.deepEqual(cairn.get('AWS_SECRET_ACCESS_KEY')?.valueFrom?.secretKeyRef, { name: 'cairn-s3', key: 's3-secret-access-key' });
    assert.deepEqual(cairn.get('CAIRN_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'cairn-admin', key: 'admin-password' });
    assert.equal(cairn.get('CAIRN_S3_PART_SIZE')?.value, '33554432');
    // Native TLS's certificate is mounted for the server (its settings come with TLS support).
    const tlsVolume = podSpec(deployment).volumes?.find((v) => v.name === 'tls');
    assert.equal(tlsVolume?.secret?.secretName, 'cairn-native-tls');
  });

  test('the server and the migration Job speak only Cairn settings, with the secrets from Secrets', { skip }, () => {
    for (const manifests of [minimal, full]) {
      for (const workload of [one(manifests, 'Deployment'), one(manifests, 'Job')]) {
        const container = podSpec(workload).containers[0]!;
        const names = [...env(container).keys()];
        assert.deepEqual(names.filter((n) => !CAIRN_ENV.has(n)), [], `${workload.kind}: names Cairn does not read`);
        for (const secret of ['DATABASE_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'CAIRN_ADMIN_PASSWORD']) {
          const entry = env(container).get(secret);
          if (entry) assert.ok(entry.valueFrom?.secretKeyRef && entry.value === undefined, `${secret} comes from a Secret`);
        }
        assert.equal(env(container).get('CAIRN_STORAGE')?.value, 's3');
      }
    }
  });

  test('pods run non-root on a read-only root filesystem, probed on /healthz and /readyz', { skip }, () => {
    for (const workload of [one(minimal, 'Deployment'), one(minimal, 'Job')]) {
      const spec = podSpec(workload);
      assert.equal(spec.securityContext?.runAsNonRoot, true);
      assert.equal(spec.securityContext?.runAsUser, 10001, 'the image user');
      const container = spec.containers[0]!;
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
      assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'] });
      // Cairn writes only to its data directory (and Node to /tmp): both are volumes.
      const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath);
      assert.ok(mounts.includes('/var/lib/cairn') && mounts.includes('/tmp'));
      assert.equal(env(container).get('CAIRN_DATA_DIR')?.value, '/var/lib/cairn');
    }
    const server = podSpec(one(minimal, 'Deployment')).containers[0]!;
    assert.equal(server.livenessProbe?.httpGet.path, '/healthz');
    assert.equal(server.startupProbe?.httpGet.path, '/healthz');
    assert.equal(server.readinessProbe?.httpGet.path, '/readyz');
    assert.deepEqual(server.args, ['serve']);
  });

  test('cairn migrate runs as a hook: after install, before an upgrade rolls pods', { skip }, () => {
    const job = one(minimal, 'Job');
    assert.equal(job.metadata.annotations?.['helm.sh/hook'], 'post-install,pre-upgrade');
    assert.deepEqual(podSpec(job).containers[0]?.args, ['migrate']);
  });

  test('the generated token signing key is one ES256 (P-256) key that every replica mounts', { skip }, () => {
    const secret = one(minimal, 'Secret') as Manifest & { data: Record<string, string> };
    const pem = Buffer.from(secret.data['token-signing-key.pem']!, 'base64').toString();
    const key = createPrivateKey(pem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(Buffer.from(secret.data['database-url']!, 'base64').toString(), 'postgres://cairn:db-password@postgres.db.svc:5432/cairn');
    const spec = podSpec(one(minimal, 'Deployment'));
    const volume = spec.volumes?.find((v) => v.name === 'token-signing-key');
    assert.equal(volume?.secret?.secretName, secret.metadata.name);
    const container = spec.containers[0]!;
    const mount = container.volumeMounts?.find((m) => m.name === 'token-signing-key');
    assert.equal(env(container).get('CAIRN_TOKEN_KEY_FILE')?.value, `${mount?.mountPath}/token-signing-key.pem`);
  });

  test("replicas given the chart's key and admin Secret accept each other's tokens", { skip, timeout: 300_000 }, async () => {
    const secret = one(minimal, 'Secret') as Manifest & { data: Record<string, string> };
    const value = (key: string) => Buffer.from(secret.data[key]!, 'base64').toString();
    const dir = await mkdtemp(join(tmpdir(), 'cairn-chart-key-'));
    const keyFile = join(dir, 'token-signing-key.pem');
    await writeFile(keyFile, value('token-signing-key.pem'), { mode: 0o600 });
    // The two pods' settings for these (the rest — PostgreSQL, S3 — are the other suites' business).
    const env = { CAIRN_TOKEN_KEY_FILE: keyFile, CAIRN_ADMIN_PASSWORD: value('admin-password'), CAIRN_STORAGE: 'filesystem' };
    // PostgreSQL when the run has it: two embedded databases starting at once are slow on a busy machine.
    const database = testDatabases().includes('postgres') ? 'postgres' : 'pglite';
    const a = await startCairn({ database, env });
    const b = await startCairn({ database, env }).catch(async (error: unknown) => {
      await a.stop();
      throw error;
    });
    try {
      const scope = 'registry:catalog:*';
      const token = await tokenFor(a.url, [scope], basic('admin', value('admin-password')));
      assert.equal((await fetch(`${b.url}/v2/`, { headers: bearer(token) })).status, 200, 'a token of one replica is good at another');
      assert.equal((await fetch(`${b.url}/v2/_catalog`, { headers: bearer(token) })).status, 200);
      // The same claims signed with any other key are refused: it is the shared key that makes them good.
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(other);
      assert.equal((await fetch(`${b.url}/v2/`, { headers: bearer(forged) })).status, 401);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
