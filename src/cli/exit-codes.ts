/** The `tandem` command's exit codes, documented in `tandem start --help` and the README. */
export const EXIT = {
  ok: 0,
  /** The server could not start or failed while running (a port in use, a store error). */
  failure: 1,
  /** The command line, environment or config file is invalid. */
  config: 2,
} as const;
