/**
 * `cairn retention plan|apply [--policy NAME] [--json]`: the retention dry run and run, in-process
 * (the database and the registry services, no HTTP). Config options as for `serve`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import { openRetention } from '../app.js';
import { ConfigError, type CairnConfig } from '../config/config.js';
import { RetentionError } from '../retention/errors.js';
import type { Plan, Run } from '../retention/service.js';

export const RETENTION_USAGE = `  retention plan|apply [--policy NAME] [--json]
            show what the retention policies would delete (plan), or delete it now (apply)`;

type Options = NonNullable<ParseArgsConfig['options']>;

export async function retentionCommand(args: string[], configOptions: Options, configFrom: (values: any) => CairnConfig): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'plan' && sub !== 'apply') throw new ConfigError(`unknown retention command "${sub ?? ''}" (try: cairn retention plan, cairn retention apply)`);
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: rest, options: { ...configOptions, policy: { type: 'string' }, json: { type: 'boolean' } }, strict: true }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const config = configFrom(values);
  // Logs go to standard error, so --json output stays parseable.
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const { retention, close } = await openRetention(config, logger);
  try {
    const policy = values.policy as string | undefined;
    if (sub === 'plan') {
      const plan = await retention.plan(policy);
      process.stdout.write(values.json ? `${JSON.stringify(planJson(plan), null, 2)}\n` : describePlan(plan));
    } else {
      const runs = await retention.run(policy, 'cli', `cli:${process.env.USER ?? 'unknown'}`);
      process.stdout.write(values.json ? `${JSON.stringify({ runs }, null, 2)}\n` : runs.map(describeRun).join(''));
    }
  } catch (error) {
    if (error instanceof RetentionError) throw new ConfigError(error.message);
    throw error;
  } finally {
    await close();
  }
}

function planJson(plan: Plan) {
  return {
    decisions: plan.decisions.map(({ manifestId: _id, ...d }) => d),
    manifests: plan.manifests.map(({ repository, digest }) => ({ repository, digest })),
    bytesFreed: plan.bytesFreed,
    blobsFreed: plan.blobsFreed,
  };
}

function describePlan(plan: Plan): string {
  const lines = plan.decisions.map((d) => `${d.action === 'delete' ? 'delete' : 'keep  '} ${d.repository}${d.tag === null ? `@${d.digest}` : `:${d.tag}`}  [${d.policy}/${d.rule}] ${d.reason}`);
  const deletes = plan.decisions.filter((d) => d.action === 'delete').length;
  lines.push(`${deletes} to delete, ${plan.manifests.length} manifests removed; ${plan.bytesFreed} bytes in ${plan.blobsFreed} blobs freed`);
  return `${lines.join('\n')}\n`;
}

function describeRun(run: Run): string {
  const head = `run ${run.id} (${run.policy}): ${run.tagsDeleted} tags, ${run.manifestsDeleted} manifests deleted; ${run.bytesFreed} bytes in ${run.blobsFreed} blobs left for the garbage collector${run.error ? `; FAILED: ${run.error}` : ''}`;
  return `${[head, ...run.deleted.map((d) => `  deleted ${d.repository}${d.tag === null ? `@${d.digest}` : `:${d.tag}`}  [${d.rule}] ${d.reason}`)].join('\n')}\n`;
}
