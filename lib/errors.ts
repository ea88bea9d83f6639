/**
 * Typed errors with a stable `code` and the CLI exit code they map to.
 * The CLI prints `ipms: <message>` on one line and exits with `exitCode`; stack traces are
 * only shown for unexpected errors (anything that is not an IpmsError) or with IPMS_DEBUG=1.
 */

/** The exit codes of every ipms command (shown by `ipms --help`). */
export const EXIT = Object.freeze({
  OK: 0,
  /** the command ran but something it did failed (a device refused a rule, a check is critical) */
  FAILURE: 1,
  /** bad usage or bad input: nothing was changed */
  USAGE: 2,
  /** the database is unreachable, refused the login, or is not migrated */
  DATABASE: 3,
  /** the named thing (rule, sensor, device, threshold...) does not exist */
  NOT_FOUND: 4,
  /** refused for safety or consistency: whitelisted address, duplicate name, open rule exists */
  REFUSED: 5,
});

export class IpmsError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode: number = EXIT.FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IpmsError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad input from a user or a file: argument, address, duration, key=value. */
export class InputError extends IpmsError {
  constructor(message: string, code = 'E_INPUT') {
    super(code, message, EXIT.USAGE);
    this.name = 'InputError';
  }
}

/** Configuration missing or invalid (no database URL, unreadable config file). */
export class ConfigError extends IpmsError {
  constructor(message: string, code = 'E_CONFIG') {
    super(code, message, EXIT.USAGE);
    this.name = 'ConfigError';
  }
}

/** The database cannot be reached or used (connection refused, login refused, TLS refused). */
export class DatabaseError extends IpmsError {
  constructor(message: string, code = 'E_DATABASE', options?: { cause?: unknown }) {
    super(code, message, EXIT.DATABASE, options);
    this.name = 'DatabaseError';
  }
}

export class NotFoundError extends IpmsError {
  constructor(message: string, code = 'E_NOT_FOUND') {
    super(code, message, EXIT.NOT_FOUND);
    this.name = 'NotFoundError';
  }
}

/** Refused for safety or consistency (whitelisted, protected, duplicate). */
export class RefusedError extends IpmsError {
  constructor(message: string, code = 'E_REFUSED') {
    super(code, message, EXIT.REFUSED);
    this.name = 'RefusedError';
  }
}

/** One line, no stack: what the CLI prints for any error. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // one line, and no control characters: messages quote input (a feed line, a device's answer)
  return msg.replace(/\s*\n\s*/g, ' ').trim()
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
