/**
 * Minimal structured logger (one JSON line per event on stderr). Secrets are redacted by the caller's choice of
 * fields; `redact` strips any configured secret that slips into a message as a second line of defence.
 */
import type { LogLevel } from './config.js';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(options: {
  level: LogLevel;
  secrets?: readonly string[];
  write?: (line: string) => void;
}): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 8);
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redact = (text: string) => secrets.reduce((acc, s) => acc.split(s).join('[redacted]'), text);
  const log = (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[options.level]) return;
    const entry = { time: new Date().toISOString(), level, msg, ...fields };
    write(redact(JSON.stringify(entry, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v))));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
