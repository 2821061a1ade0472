/**
 * `cairn retention plan|apply`: the retention dry run and run, in-process (the database and the
 * registry services, no HTTP). Loaded only for these commands (retention-commands.ts). Runs are
 * audited as Cairn's own ('system'), on the word of the operator at the shell, like
 * `cairn admin create`.
 */
import pino from 'pino';
import { openRetention } from '../app.js';
import type { CairnConfig } from '../config/config.js';
import { SYSTEM } from '../metadata/stores/audit.js';
import { planView, type Plan, type Run } from '../retention/service.js';

export async function retentionPlan(config: CairnConfig, policy: string | undefined, json: boolean): Promise<void> {
  await withRetention(config, async (retention) => {
    const plan = await retention.plan(policy);
    process.stdout.write(json ? `${JSON.stringify(planView(plan), null, 2)}\n` : describePlan(plan));
  });
}

export async function retentionApply(config: CairnConfig, policy: string | undefined, json: boolean): Promise<void> {
  await withRetention(config, async (retention) => {
    const runs = await retention.run(policy, 'cli', SYSTEM);
    process.stdout.write(json ? `${JSON.stringify({ runs }, null, 2)}\n` : runs.map(describeRun).join('') || 'no retention policy\n');
  });
}

async function withRetention(config: CairnConfig, use: (retention: Awaited<ReturnType<typeof openRetention>>['retention']) => Promise<void>): Promise<void> {
  // Logs go to standard error, so --json output stays parseable.
  const logger = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  const { retention, close } = await openRetention(config, logger);
  try {
    await use(retention);
  } finally {
    await close();
  }
}

function describePlan(plan: Plan): string {
  const lines = plan.decisions.map((d) => `${d.action.padEnd(8)}${d.repository}${d.tag === null ? `@${d.digest}` : `:${d.tag}`}  [${d.policy}/${d.rule}] ${d.reason}`);
  const deletes = plan.decisions.filter((d) => d.action === 'delete').length;
  lines.push(`${deletes} to delete, ${plan.rewrites.length} to rewrite, ${plan.manifests.length} manifests removed; ${plan.bytesFreed} bytes in ${plan.blobsFreed} blobs freed`);
  return `${lines.join('\n')}\n`;
}

function describeRun(run: Run): string {
  const head = `run ${run.id} (${run.policy}): ${run.tagsDeleted} tags, ${run.manifestsDeleted} manifests deleted, ${run.tagsRewritten} caches rewritten; ${run.bytesFreed} bytes in ${run.blobsFreed} blobs left for the garbage collector${run.error ? `; FAILED: ${run.error}` : ''}`;
  const deleted = run.deleted.map((d) => `  deleted ${d.repository}${d.tag === null ? `@${d.digest}` : `:${d.tag}`}  [${d.rule}] ${d.reason}`);
  const rewritten = run.rewritten.map((r) => `  rewrote ${r.repository}:${r.tag} ${r.digest} → ${r.rewrittenDigest}  [${r.rule}] ${r.reason}`);
  return `${[head, ...deleted, ...rewritten].join('\n')}\n`;
}
