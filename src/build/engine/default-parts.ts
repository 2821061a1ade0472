/**
 * The real parts, wired once per snapshot directory: the Dockerfile frontend, runc, the tar layer
 * writer, and one snapshot cache per directory (a cache owns its directory; two instances over one
 * directory, in one process or two, would evict each other's snapshots).
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

const bySnapshotDir = new Map<string, BuildParts & { readonly snapshots: SnapshotCache }>();

export function defaultParts(
  workDir: string,
  options: { snapshotDir?: string; snapshotBudgetBytes?: number; outbound?: boolean } = {},
): BuildParts & { readonly snapshots: SnapshotCache } {
  const snapshotDir = options.snapshotDir ?? join(workDir, 'snapshots');
  let parts = bySnapshotDir.get(snapshotDir);
  if (!parts) {
    parts = {
      dockerfile: { parse, planStages, resolveStage },
      executor: new RuncExecutor({ outbound: options.outbound ?? false }),
      layerWriter: new TarLayerWriter(),
      snapshots: new SnapshotCache({ root: snapshotDir, budgetBytes: options.snapshotBudgetBytes ?? SNAPSHOT_BUDGET_BYTES }),
      context: contextParts(),
    };
    bySnapshotDir.set(snapshotDir, parts);
  }
  return parts;
}
