/**
 * The parts the engine drives, by contract. The Dockerfile functions, the executor, the layer
 * writer and the snapshots are the committed contracts of src/build/{dockerfile,executor,layers};
 * the context functions (extraction, COPY/ADD, content digests) belong to src/build/context and
 * src/build/layers. `defaultParts()` (./default-parts.ts) wires the real implementations.
 */
import type { Readable } from 'node:stream';
import type { Ast, BuildOptions, ImageConfigState, StagePlan, Step } from '../dockerfile/model.js';
import type { Executor } from '../executor/executor.js';
import type { LayerWriter, Snapshots } from '../layers/layers.js';

export type CopyStep = Extract<Step, { kind: 'copy' }>;

export interface DockerfileParts {
  parse(text: string): Ast;
  planStages(ast: Ast, options: BuildOptions): StagePlan;
  resolveStage(ast: Ast, plan: StagePlan, index: number, base: ImageConfigState, options: BuildOptions): Step[];
}

/** Content digest of COPY/ADD sources, with a digest per file (sorted by path) for the cache report. */
export interface SourceDigest {
  readonly digest: string;
  readonly files: ReadonlyArray<readonly [string, string]>;
}

export interface ContextParts {
  /** Extracts an uploaded context tar into `dir` (hostile entries refused), honouring .dockerignore. */
  extract(tar: Readable, dir: string): Promise<void>;
  /**
   * The digest of what a COPY/ADD would take from `root` (globs, excludes and, for the context,
   * .dockerignore applied).
   */
  sourceDigest(root: string, step: CopyStep, fromContext: boolean): Promise<SourceDigest>;
  /** The digest of a path of the context a `RUN --mount=type=bind` shows the step (a file or a tree). */
  pathDigest(root: string, path: string): Promise<string>;
  /**
   * Writes what the COPY/ADD adds into `upperDir`. `lowerDirs` are the snapshots of the image the
   * step writes into (for --chown names and existing destinations), lowest first.
   */
  copy(sourceRoot: string, step: CopyStep, upperDir: string, lowerDirs: readonly string[], fromContext: boolean): Promise<void>;
}

export interface BuildParts {
  readonly dockerfile: DockerfileParts;
  readonly executor: Executor;
  readonly layerWriter: LayerWriter;
  readonly snapshots: Snapshots;
  readonly context: ContextParts;
}
