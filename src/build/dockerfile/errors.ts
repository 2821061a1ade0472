/**
 * The Dockerfile's domain errors. Each names the line (1-based) so that the build log can point at
 * it, as BuildKit's `dockerfile parse error on line N` does; `reason` is the message without it.
 *
 * - DockerfileSyntaxError: the file is not a valid Dockerfile (BuildKit refuses it too).
 * - DockerfileUnsupportedError: valid for BuildKit, refused by Cairn (ONBUILD triggers, ADD from a
 *   URL or git, host networking, …).
 * - DockerfileTargetError: the build's options do not fit the file (an unknown `--target`).
 */
export abstract class DockerfileError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number | undefined,
    readonly endLine: number | undefined,
  ) {
    super(line === undefined ? reason : `Dockerfile line ${line}: ${reason}`);
  }
}

export class DockerfileSyntaxError extends DockerfileError {
  constructor(reason: string, line: number, endLine: number = line) {
    super(reason, line, endLine);
    this.name = 'DockerfileSyntaxError';
  }
  declare readonly line: number;
  declare readonly endLine: number;
}

export class DockerfileUnsupportedError extends DockerfileError {
  constructor(reason: string, line: number, endLine: number = line) {
    super(reason, line, endLine);
    this.name = 'DockerfileUnsupportedError';
  }
  declare readonly line: number;
  declare readonly endLine: number;
}

export class DockerfileTargetError extends DockerfileError {
  constructor(reason: string) {
    super(reason, undefined, undefined);
    this.name = 'DockerfileTargetError';
  }
}

/** A shell-word expansion failed (unterminated quote, bad substitution, `${x:?msg}`); no line yet. */
export class ShellExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellExpansionError';
  }
}
