/** The `tandem` command's exit codes, documented in each command's `--help` and the README. */
export const EXIT = {
  ok: 0,
  /**
   * The server could not start or failed while running (a port in use, a store error); for the
   * operator commands, the server could not be reached.
   */
  failure: 1,
  /** The command line, environment or config file is invalid. */
  config: 2,
  /**
   * The server answered with an error (401, 403, 404, 409, 400...); its `TANDEM_ERR_*` code and
   * message are printed on stderr.
   */
  api: 3,
  /**
   * A live operation (`tandem read|write|exec|observe`): the device answered with an error
   * (TANDEM_ERR_LWM2M_*, its CoAP code such as 4.04 is printed), or with something unusable.
   */
  device: 4,
  /** A live operation: the device is offline, or did not answer within the timeout. */
  unreachable: 5,
} as const;
