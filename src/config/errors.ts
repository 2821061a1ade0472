/**
 * A setting is missing, misspelt or has a value Cairn cannot use. The message is one line that
 * names the setting as the person wrote it (flag, environment variable or config-file key) and
 * says what is wrong; the CLI prints it and exits with status 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
