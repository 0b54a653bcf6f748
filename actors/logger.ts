/** What the runtime logs through (pino in `server/main.ts`); messages never contain secrets. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The logger of hosts and parts given none. */
export const silent: Logger = { info() {}, warn() {}, error() {} };
