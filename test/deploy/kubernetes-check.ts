/**
 * Checks rendered Kubernetes manifests against the Kubernetes v1.30 API, offline.
 *
 * No npm package ships Kubernetes' OpenAPI document or the JSON schemas derived from it for a
 * current release (kubernetes-models ships ajv validators compiled from them, which accept any
 * unknown field; the rest fetch schemas over the network). `kubernetes-types` is generated from
 * that OpenAPI document: every kind, every field, which are required and their types. So each
 * manifest becomes a typed object literal — `const m: Deployment = {…}` — and the TypeScript
 * compiler checks it: an unknown or misplaced field (TypeScript's excess-property check, like
 * the API server's strict field validation), a missing required field and a wrong type are all
 * errors, reported with the manifest's kind and name and the compiler's message. Quantities are
 * typed as strings there, so the chart writes them as strings.
 *
 * The Prometheus Operator's ServiceMonitor is a custom resource, not in kubernetes-types: its
 * type below covers the fields of monitoring.coreos.com/v1 that the chart may write (from the
 * operator's CRD), so those are checked the same way.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../support/cli.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [field: string]: unknown;
}

const SERVICE_MONITOR_TYPE = `
import type { ObjectMeta, LabelSelector } from 'kubernetes-types/meta/v1';
import type { SecretKeySelector } from 'kubernetes-types/core/v1';
interface SafeAuthorization { type?: string; credentials?: SecretKeySelector }
interface BasicAuth { username?: SecretKeySelector; password?: SecretKeySelector }
interface TLSConfig { ca?: object; cert?: object; keySecret?: SecretKeySelector; serverName?: string; insecureSkipVerify?: boolean; caFile?: string; certFile?: string; keyFile?: string }
interface RelabelConfig { sourceLabels?: string[]; separator?: string; targetLabel?: string; regex?: string; modulus?: number; replacement?: string; action?: string }
interface Endpoint {
  port?: string; targetPort?: number | string; path?: string; scheme?: 'http' | 'https'; params?: Record<string, string[]>;
  interval?: string; scrapeTimeout?: string; honorLabels?: boolean; honorTimestamps?: boolean; trackTimestampsStaleness?: boolean;
  basicAuth?: BasicAuth; authorization?: SafeAuthorization; bearerTokenSecret?: SecretKeySelector; tlsConfig?: TLSConfig;
  relabelings?: RelabelConfig[]; metricRelabelings?: RelabelConfig[]; followRedirects?: boolean; enableHttp2?: boolean; filterRunning?: boolean;
}
interface ServiceMonitorSpec {
  jobLabel?: string; targetLabels?: string[]; podTargetLabels?: string[]; endpoints: Endpoint[]; selector: LabelSelector;
  namespaceSelector?: { any?: boolean; matchNames?: string[] }; sampleLimit?: number; targetLimit?: number;
}
export interface ServiceMonitor { apiVersion: 'monitoring.coreos.com/v1'; kind: 'ServiceMonitor'; metadata: ObjectMeta; spec: ServiceMonitorSpec }
`;

/** The kubernetes-types module of an apiVersion: "apps/v1" → apps/v1, "v1" → core/v1, "networking.k8s.io/v1" → networking/v1. */
function typesModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  return `kubernetes-types/${group!.split('.')[0]}/${version}`;
}

/** Every problem found, as "Kind/name: message" lines; empty when every manifest is valid. */
export async function checkManifests(manifests: Manifest[]): Promise<string[]> {
  const problems: string[] = [];
  const imports = new Map<string, Set<string>>();
  const declarations: string[] = [];
  manifests.forEach((manifest, i) => {
    const label = `${manifest.kind}/${manifest.metadata?.name}`;
    if (manifest.apiVersion === 'monitoring.coreos.com/v1' && manifest.kind === 'ServiceMonitor') {
      declarations.push(`// ${label}\nexport const m${i}: ServiceMonitor = ${JSON.stringify(manifest, null, 2)};`);
      return;
    }
    const module = typesModule(String(manifest.apiVersion));
    if (!existsSync(join(ROOT, 'node_modules', `${module}.d.ts`))) {
      problems.push(`${label}: no Kubernetes v1.30 API has apiVersion ${manifest.apiVersion}`);
      return;
    }
    const alias = `${module.split('/').slice(1).join('_')}_${manifest.kind}`.replace(/[^A-Za-z0-9_]/g, '_');
    if (!imports.has(module)) imports.set(module, new Set());
    imports.get(module)!.add(`${manifest.kind} as ${alias}`);
    // apiVersion and kind are optional literal types there: required here, as the API server wants.
    declarations.push(`// ${label}\nexport const m${i}: ${alias} & { apiVersion: string; kind: string } = ${JSON.stringify(manifest, null, 2)};`);
  });
  const source = [
    SERVICE_MONITOR_TYPE,
    ...[...imports].map(([module, names]) => `import type { ${[...names].join(', ')} } from '${module}';`),
    ...declarations,
  ].join('\n');

  // Inside the checkout, so that `kubernetes-types` resolves from its node_modules.
  const dir = await mkdtemp(join(ROOT, 'node_modules', '.cairn-k8s-check-'));
  try {
    const file = join(dir, 'manifests.ts');
    await writeFile(file, source);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      types: [],
    });
    const sourceFile = program.getSourceFile(file)!;
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
      if (diagnostic.file !== sourceFile || diagnostic.start === undefined) {
        problems.push(message);
        continue;
      }
      // The manifest a diagnostic falls in: the nearest "// Kind/name" comment above it.
      const before = source.slice(0, diagnostic.start);
      const label = /\/\/ (\S+)\n[^]*$/.exec(before.slice(before.lastIndexOf('\n// ')))?.[1] ?? '?';
      const { line } = sourceFile.getLineAndCharacterOfPosition(diagnostic.start);
      problems.push(`${label}: ${message} (at: ${source.split('\n')[line]!.trim()})`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return problems;
}
