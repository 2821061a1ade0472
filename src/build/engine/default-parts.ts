/**
 * The real parts, wired once per worker directory: the Dockerfile frontend, runc, the tar layer
 * writer, and one snapshot cache per DATA_DIR/worker directory (a cache owns its directory; two
 * instances over one directory would evict each other's snapshots).
 */
import { join } from 'node:path';
import { parse, planStages, resolveStage } from '../dockerfile/index.js';
import { RuncExecutor } from '../executor/runc-executor.js';
import { SnapshotCache } from '../layers/snapshots.js';
import { TarLayerWriter } from '../layers/writer.js';
import { contextParts } from './context-parts.js';
import type { BuildParts } from './parts.js';

/** Default byte budget of the local snapshot cache. */
export const SNAPSHOT_BUDGET_BYTES = 10 * 1024 ** 3;

const byWorkDir = new Map<string, BuildParts & { readonly snapshots: SnapshotCache }>();

export function defaultParts(workDir: string, options: { snapshotBudgetBytes?: number; outbound?: boolean } = {}): BuildParts & { readonly snapshots: SnapshotCache } {
  let parts = byWorkDir.get(workDir);
  if (!parts) {
    parts = {
      dockerfile: { parse, planStages, resolveStage },
      executor: new RuncExecutor({ outbound: options.outbound ?? false }),
      layerWriter: new TarLayerWriter(),
      snapshots: new SnapshotCache({ root: join(workDir, 'snapshots'), budgetBytes: options.snapshotBudgetBytes ?? SNAPSHOT_BUDGET_BYTES }),
      context: contextParts(),
    };
    byWorkDir.set(workDir, parts);
  }
  return parts;
}
