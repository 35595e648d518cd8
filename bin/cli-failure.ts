/** A command failed in a way the user can act on: printed as one line, exit 1 (2 when `usage`: the command line is wrong). */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}
