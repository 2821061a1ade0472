/** Retention's Prometheus metrics, on the process's one registry. Labels: policy names (few). */
import { Counter, type Registry } from 'prom-client';

export class RetentionMetrics {
  readonly runs: Counter<'policy' | 'trigger' | 'outcome'>;
  readonly tagsDeleted: Counter<'policy'>;
  readonly manifestsDeleted: Counter<'policy'>;
  readonly tagsRewritten: Counter<'policy'>;
  readonly bytesFreed: Counter<'policy'>;

  constructor(registry: Registry) {
    this.runs = new Counter({
      name: 'cairn_retention_runs_total',
      help: 'Retention runs, by policy, trigger (api, schedule, cli) and outcome (ok, failed)',
      labelNames: ['policy', 'trigger', 'outcome'] as const,
      registers: [registry],
    });
    this.tagsDeleted = new Counter({ name: 'cairn_retention_tags_deleted_total', help: 'Tags deleted by retention, by policy', labelNames: ['policy'] as const, registers: [registry] });
    this.manifestsDeleted = new Counter({
      name: 'cairn_retention_manifests_deleted_total',
      help: 'Manifests deleted by retention (untagged, or untagged by the run), by policy',
      labelNames: ['policy'] as const,
      registers: [registry],
    });
    this.tagsRewritten = new Counter({
      name: 'cairn_retention_tags_rewritten_total',
      help: 'Cache tags rewritten without their unused layers (prune.unusedDays), by policy',
      labelNames: ['policy'] as const,
      registers: [registry],
    });
    this.bytesFreed = new Counter({
      name: 'cairn_retention_bytes_unreferenced_total',
      help: 'Bytes of blobs left unreferenced by retention runs (the garbage collector frees them), by policy',
      labelNames: ['policy'] as const,
      registers: [registry],
    });
  }
}
