/**
 * The Dockerfile as the parser reads it and as the engine runs it. Two forms:
 *
 * - `Ast`: what `parse()` returns: instructions as written (keyword, flags, arguments, heredocs),
 *   nothing expanded. BuildKit's parser dumps (test/fixtures/dockerfile) are compared with this.
 * - `Step`: one instruction of a stage after `resolve()`: flags parsed, words expanded with the
 *   ARG and ENV values in effect (shell-word rules), ready for the engine. Expansion needs the base
 *   image's environment, so the engine resolves a stage once it has read its base's config.
 *
 * Pure data: no I/O here. Owned by src/build/dockerfile; the engine only reads it.
 */

/** 1-based lines of the instruction in the Dockerfile, continuation lines included. */
export interface Location {
  readonly line: number;
  readonly endLine: number;
}

export interface Heredoc {
  /** The word after `<<` (without quotes or `-`). */
  readonly name: string;
  /**
   * In the Ast: the body as written, line endings included. In a Step: the file's bytes, leading
   * tabs already stripped for `<<-`, and for COPY/ADD expanded unless the name was quoted.
   */
  readonly content: string;
  /** `<<-`: leading tabs stripped. */
  readonly chomp: boolean;
  /** `<<"EOF"`/`<<'EOF'`: the content is not expanded. */
  readonly quoted: boolean;
}

export interface AstInstruction {
  /** Lower-case keyword: `from`, `run`, `copy`, … */
  readonly keyword: string;
  /** `--name=value` flags as written, before the arguments. */
  readonly flags: readonly string[];
  /**
   * The arguments; for exec (JSON) form each element, for shell form the rest of the line. ENV and
   * LABEL: triples key, value, separator (`=`, or `` for the legacy `ENV key value` form).
   * HEALTHCHECK: the type (`CMD`, `NONE`) then the command. ONBUILD: none (see `next`).
   */
  readonly args: readonly string[];
  readonly json: boolean;
  readonly heredocs: readonly Heredoc[];
  /** ONBUILD's nested instruction. */
  readonly next?: AstInstruction;
  /** The instruction's text as written, continuation lines joined (for logs and history). */
  readonly original: string;
  readonly location: Location;
}

export interface Ast {
  readonly directives: { readonly syntax?: string; readonly escape: '\\' | '`'; readonly check?: string };
  readonly instructions: readonly AstInstruction[];
}

/** A build's inputs that change what `resolve()` produces. */
export interface BuildOptions {
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly target?: string;
  /** Build and target platform, `os/arch[/variant]` (default `linux/amd64`): the automatic ARGs. */
  readonly platform?: string;
}

/** FROM, resolved: an image reference (`repo:tag`, `repo@digest`), `scratch`, or an earlier stage. */
export type StageBase =
  | { readonly kind: 'scratch' }
  | { readonly kind: 'stage'; readonly index: number }
  | { readonly kind: 'image'; readonly reference: string };

export interface StageHeader {
  readonly index: number;
  readonly name?: string;
  readonly base: StageBase;
  readonly platform?: string;
  readonly location: Location;
}

/** The parsed file split into stages, with the stages the target needs (in build order). */
export interface StagePlan {
  readonly stages: readonly StageHeader[];
  /** Indices of the stages to build, dependencies first, the target last. */
  readonly needed: readonly number[];
  readonly target: number;
}

/**
 * `RUN --mount`, with BuildKit's defaults filled in. Targets are absolute (relative ones joined to
 * WORKDIR). `from`: an earlier stage or an image (absent: the build context; for cache, empty).
 * Cache `id` defaults to the target as written; secret `target` to `/run/secrets/<id>` unless only
 * `env` is given; modes are numbers (cache 0o755, secret 0o400 by default), owners 0:0.
 */
export type RunMount =
  | { readonly type: 'cache'; readonly target: string; readonly id: string; readonly sharing: 'shared' | 'private' | 'locked'; readonly readonly: boolean; readonly from?: StageBase; readonly source?: string; readonly mode?: number; readonly uid?: number; readonly gid?: number }
  | { readonly type: 'bind'; readonly target: string; readonly source: string; readonly from?: StageBase; readonly readwrite: boolean }
  | { readonly type: 'tmpfs'; readonly target: string; readonly size?: number }
  | { readonly type: 'secret'; readonly target?: string; readonly id: string; readonly env?: string; readonly required: boolean; readonly mode?: number; readonly uid?: number; readonly gid?: number };

/**
 * The image config a stage accumulates (as in the OCI image config's `config`, plus `author`, which
 * MAINTAINER sets at the config's top level). Healthcheck durations are nanoseconds, as Docker's
 * config stores them; zero values are omitted.
 */
export interface ImageConfigState {
  readonly env: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly user?: string;
  readonly workingDir?: string;
  readonly exposedPorts: readonly string[];
  readonly volumes: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly stopSignal?: string;
  readonly shell?: readonly string[];
  readonly healthcheck?: { readonly test: readonly string[]; readonly interval?: number; readonly timeout?: number; readonly startPeriod?: number; readonly startInterval?: number; readonly retries?: number };
  readonly onBuild?: readonly string[];
  /** Set by CMD (BuildKit writes `ArgsEscaped: true`). */
  readonly argsEscaped?: boolean;
  readonly author?: string;
}

interface StepBase {
  /** The instruction as BuildKit shows it in progress and history, e.g. `RUN make` or `COPY . /src`. */
  readonly display: string;
  readonly location: Location;
  /** Build args in use by this step (only the ones it references or that RUN sees), for cache keys. */
  readonly args: Readonly<Record<string, string>>;
  /** The stage's image config after this step (ENV, USER, WORKDIR, … in effect for the next). */
  readonly config: ImageConfigState;
  /** The image history entry's `created_by`, as BuildKit writes it (`RUN /bin/sh -c make # buildkit`). */
  readonly createdBy: string;
  /** The history entry's `empty_layer`: true for config-only steps. */
  readonly emptyLayer: boolean;
}

export type Step =
  | (StepBase & {
      readonly kind: 'run';
      /** Shell form: the shell (`SHELL`, default `/bin/sh -c`) plus the script; exec form: the argv. */
      readonly argv: readonly string[];
      /** Environment of the process: image ENV plus build ARGs in scope. */
      readonly env: readonly string[];
      /** Proxy build args (`HTTP_PROXY`, …) not declared with ARG: for the process, never for cache keys. */
      readonly proxyEnv: readonly string[];
      readonly mounts: readonly RunMount[];
      /** `host` is refused by resolveStage (DockerfileUnsupportedError); kept for completeness. */
      readonly network: 'default' | 'none' | 'host';
      /**
       * Files to mount read-only at `/dev/pipes/<name>`, mode 0755: a RUN whose only heredoc is the
       * whole command and starts with `#!` runs that file (argv is the shell plus its path). Other
       * heredocs are already folded into argv's script.
       */
      readonly heredocs: readonly Heredoc[];
    })
  | (StepBase & {
      readonly kind: 'copy';
      readonly add: boolean;
      /** Context paths or globs (or, with `from`, paths in that stage/image), expanded. */
      readonly sources: readonly string[];
      /** Absolute (joined to WORKDIR); a trailing `/` (or `.`) means a directory. */
      readonly dest: string;
      readonly from?: StageBase;
      readonly chown?: string;
      /** Octal (`0755`) or symbolic (`u+x`), validated. */
      readonly chmod?: string;
      readonly link: boolean;
      /** `COPY --parents`: keep the source's path below a `/./` marker (or the whole path). */
      readonly parents: boolean;
      readonly exclude: readonly string[];
      /** Files to create (mode 0644, or `chmod`) from `<<NAME` sources. */
      readonly heredocs: readonly Heredoc[];
    })
  | (StepBase & {
      /** WORKDIR other than `/`: sets the working directory and creates it (0755, owned by USER). */
      readonly kind: 'workdir';
      readonly path: string;
    })
  | (StepBase & {
      /** Instructions that only change the image config (ENV, LABEL, CMD, USER, …). */
      readonly kind: 'config';
      /** The keyword, lower-case (`env`, `label`, `cmd`, …): history entries are empty layers. */
      readonly instruction: string;
    });

/**
 * The parser's entry points (src/build/dockerfile/index.ts):
 *   parse(text: string): Ast                                   — throws DockerfileSyntaxError (with line)
 *   planStages(ast: Ast, options: BuildOptions): StagePlan     — meta ARGs before FROM expanded
 *   resolveStage(ast, plan, index, base: ImageConfigState, options): Step[]
 *                                                             — throws DockerfileUnsupportedError (with line)
 */
