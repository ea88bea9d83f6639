/**
 * The parsers themselves never throw (a tailer must count bad lines and go on). These typed
 * errors are for the callers that must stop instead: a file whose format cannot be named, or a
 * strict run that ends at the first refused line. Both are bad input, so the CLI maps them to
 * its usage exit code with a one-line message.
 */
import { InputError } from '../../lib/errors.ts';
import type { Detection, LogFormat } from './detect.ts';
import type { Rejected } from './types.ts';

export class UnknownFormatError extends InputError {
  readonly file: string;
  readonly candidates: readonly LogFormat[];
  constructor(file: string, detection: Extract<Detection, { format: 'unknown' }>) {
    const hint = detection.candidates.length > 0 ? `; name the format (${detection.candidates.join(' or ')})` : '';
    super(`${file}: cannot tell which honeyd log this is: ${detection.reason}${hint}`, 'E_LOG_FORMAT');
    this.name = 'UnknownFormatError';
    this.file = file;
    this.candidates = detection.candidates;
  }
}

export class LineRejectedError extends InputError {
  readonly file: string;
  readonly lineNo: number;
  readonly rejection: Rejected;
  constructor(file: string, lineNo: number, rejection: Rejected) {
    super(`${file}:${lineNo}: ${rejection.reason}`, 'E_LOG_LINE');
    this.name = 'LineRejectedError';
    this.file = file;
    this.lineNo = lineNo;
    this.rejection = rejection;
  }
}
