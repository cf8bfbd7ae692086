import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type LogLevel } from '../../src/config.js';
import { createLogger, runWithRequestContext } from '../../src/logger.js';

const SECRET = 'wh-secret-0123456789abcdef';
const API_KEY = 'sk-"quoted"\\key-0123';

function capture(level: LogLevel = 'debug', secrets: string[] = [SECRET, API_KEY]) {
  const lines: string[] = [];
  const logger = createLogger({ level, secrets, write: (line) => lines.push(line) });
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, entries };
}

describe('createLogger', () => {
  it('writes one JSON line per call with level, ISO time, msg and the fields', () => {
    const { logger, lines, entries } = capture('info');
    logger.info('task applied', { taskId: 't1', count: 2 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [entry] = entries();
    expect(entry).toEqual({ level: 'info', time: expect.any(String), msg: 'task applied', taskId: 't1', count: 2 });
    expect(new Date(entry!.time as string).toISOString()).toBe(entry!.time);
  });

  it.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
    ['silent', []],
  ] as const)('at LOG_LEVEL=%s writes only %j', (level, expected) => {
    const { logger, entries } = capture(level);
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(entries().map((e) => e.level)).toEqual(expected);
  });

  it('never lets a configured secret out: in the message, a field, a nested field, an error message or its cause', () => {
    const { logger, lines } = capture('info');
    const cause = new Error(`connect failed for ${API_KEY}`);
    logger.error(`webhook /webhooks/mavi/${SECRET} failed`, {
      url: `http://gw/webhooks/mavi/${SECRET}`,
      nested: { deeper: [`key=${API_KEY}`] },
      error: new Error(`bad secret ${SECRET}`, { cause }),
    });
    const text = lines.join('\n');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(JSON.stringify(API_KEY).slice(1, -1));
    expect(text).not.toContain('0123456789abcdef');
    expect(text.match(/\[redacted\]/g)).toHaveLength(5);
  });

  it('scrubs secrets from stacks too (debug level)', () => {
    const { logger, lines } = capture('debug');
    logger.debug('failed', { error: new Error(`bad secret ${SECRET}`) });
    expect(lines[0]).toContain('"stack"');
    expect(lines[0]).not.toContain(SECRET);
  });

  it('censors secret-bearing fields whatever their value', () => {
    const { logger, entries } = capture('info', []);
    logger.info('call', {
      headers: { authorization: 'Bearer abc', accept: 'json' },
      upstream: { apiKey: 'k-1' },
      req: { headers: { authorization: 'x', host: 'gw' } },
      token: 't',
    });
    expect(entries()[0]).toMatchObject({
      headers: { authorization: '[redacted]', accept: 'json' },
      upstream: { apiKey: '[redacted]' },
      req: { headers: { authorization: '[redacted]', host: 'gw' } },
      token: '[redacted]',
    });
  });

  it('serializes errors as name and message (plus code and cause), with the stack only at debug', () => {
    const info = capture('info');
    const error = Object.assign(new TypeError('boom', { cause: new RangeError('inner') }), { code: 'E_BOOM' });
    info.logger.warn('failed', { error, list: [new Error('in a list')] });
    expect(info.entries()[0]).toMatchObject({
      error: { name: 'TypeError', message: 'boom', code: 'E_BOOM', cause: { name: 'RangeError', message: 'inner' } },
      list: [{ name: 'Error', message: 'in a list' }],
    });
    expect(info.lines[0]).not.toContain('stack');

    const debug = capture('debug');
    debug.logger.warn('failed', { error });
    expect((debug.entries()[0]!.error as { stack: string }).stack).toContain('TypeError: boom');
  });

  it('adds request_id to every line written inside a request context, and only there', async () => {
    const { logger, entries } = capture();
    logger.info('before');
    await runWithRequestContext({ requestId: 'req-42' }, async () => {
      logger.info('inside');
      await Promise.resolve();
      logger.warn('after an await');
    });
    logger.info('after');
    expect(entries().map((e) => [e.msg, e.request_id])).toEqual([
      ['before', undefined],
      ['inside', 'req-42'],
      ['after an await', 'req-42'],
      ['after', undefined],
    ]);
  });
});

describe('LOG_PRETTY', () => {
  it('is off unless asked for, and refuses values it does not know', () => {
    expect(loadConfig({}).logPretty).toBe(false);
    expect(loadConfig({ LOG_PRETTY: 'true' }).logPretty).toBe(true);
    expect(loadConfig({ LOG_PRETTY: '1' }).logPretty).toBe(true);
    expect(() => loadConfig({ LOG_PRETTY: 'yes' })).toThrow(ConfigError);
  });
});
