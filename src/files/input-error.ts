/**
 * Errors that are about the user's input (a file, a flag, a model, a log), not about paddock:
 * their message names what was wrong and where, and is all a user sees. Anything else is a bug
 * and says so; its stack is printed only under `--debug` (or PADDOCK_DEBUG=1), so that a bad
 * input never shows a stack trace.
 *
 *   paddock: /tmp/hosts.yaml:2:3 hosts: expected a mapping of host names, not a list
 *   paddock: internal error: Cannot read properties of undefined (reading 'x') (run again with --debug for the stack)
 */

/** Base of every error whose message alone is the answer (the input and where in it). */
export class InputError extends Error {
  /** Marks input errors across bundle chunks and realms (instanceof can fail there). */
  readonly inputError = true;
}

/** Whether `err` is about input (its message is for the user as it stands). */
export function isInputError(err: unknown): err is InputError {
  return typeof err === 'object' && err !== null && (err as { inputError?: unknown }).inputError === true;
}

/** Whether stacks are wanted: `--debug` on the command line or PADDOCK_DEBUG set (not 0). */
export function debugWanted(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--debug') || (env.PADDOCK_DEBUG !== undefined && env.PADDOCK_DEBUG !== '' && env.PADDOCK_DEBUG !== '0');
}

/**
 * The text a command prints for an error it could not handle (without its `paddock: ` prefix).
 * `plain`: every error's message as it stands (a step's body throws plain Errors that name the
 * parameter or file at fault), never labelled internal.
 */
export function describeError(err: unknown, debug: boolean, opts: { plain?: boolean } = {}): string {
  const e = err instanceof Error ? err : new Error(String(err));
  if (debug) return e.stack ?? e.message;
  if (isInputError(e) || opts.plain) return e.message;
  return `internal error: ${e.message.split('\n')[0]} (run again with --debug, or PADDOCK_DEBUG=1, for the stack)`;
}
