/** Default console logger of the engine. */
import type { EngineLogger } from './types.js';

/** Logs `[engine] msg {extra as JSON}` lines to stdout/stderr. */
export function createConsoleLogger(prefix = '[engine]'): EngineLogger {
  const line = (msg: string, extra?: object) =>
    extra && Object.keys(extra).length > 0 ? `${prefix} ${msg} ${JSON.stringify(extra)}` : `${prefix} ${msg}`;
  return {
    info: (msg, extra) => console.log(line(msg, extra)),
    warn: (msg, extra) => console.warn(line(msg, extra)),
    error: (msg, extra) => console.error(line(msg, extra)),
  };
}
