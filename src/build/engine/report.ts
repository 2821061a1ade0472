/**
 * The cache report's "why": for a step that missed, the first input that differs from the
 * nearest recorded step at the same position (same stage, same step index). Pure.
 */
import type { MissReason } from '../job.js';

/** What a step is made of, as recorded in build_steps (see StepInputsRecord). */
export interface StepInputs {
  readonly instruction: string;
  readonly args: Readonly<Record<string, string>>;
  /** Per-file digests of COPY/ADD sources, sorted by path. */
  readonly files?: ReadonlyArray<readonly [string, string]>;
  readonly parent: string;
  readonly from?: string;
}

export function missReason(now: StepInputs, before: StepInputs | undefined): MissReason {
  if (!before) return { kind: 'new' };
  if (before.instruction !== now.instruction) return { kind: 'instruction', detail: `${before.instruction} → ${now.instruction}` };
  const names = [...new Set([...Object.keys(before.args), ...Object.keys(now.args)])].sort();
  const arg = names.find((n) => before.args[n] !== now.args[n]);
  if (arg !== undefined) return { kind: 'build-arg', name: arg };
  const file = firstDifferentFile(before.files ?? [], now.files ?? []);
  if (file !== undefined) return { kind: 'file', path: file };
  if (before.parent !== now.parent || before.from !== now.from) return { kind: 'parent' };
  // Same recorded inputs, different key: something not recorded (env, mounts) changed.
  return { kind: 'instruction', detail: 'the step runs with other settings (env, mounts, user or working directory)' };
}

function firstDifferentFile(a: ReadonlyArray<readonly [string, string]>, b: ReadonlyArray<readonly [string, string]>): string | undefined {
  const before = new Map(a);
  const now = new Map(b);
  const paths = [...new Set([...before.keys(), ...now.keys()])].sort();
  return paths.find((p) => before.get(p) !== now.get(p));
}
