/**
 * The logger shape the gateway's parts call: pino's (a structured object, then the message).
 * Declared once; each part takes only the levels it calls (`Pick<LogCalls, ...>`), so a test
 * can pass a small recorder and the server passes its pino logger.
 */

/** One logging call: `object` is logged as structured fields beside `message`. */
export type LogCall = (object: object, message: string) => void;

/** The levels the gateway's parts call. */
export interface LogCalls {
  info: LogCall;
  warn: LogCall;
  error: LogCall;
}
