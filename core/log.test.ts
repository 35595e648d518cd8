import { describe, expect, it } from 'vitest';
import { logFormat } from './log.js';

describe('log format', () => {
  it('JSON for machines, readable lines on a terminal, SLUICE_LOG_FORMAT overrides', () => {
    expect(logFormat({}, { isTTY: false })).toBe('json');
    expect(logFormat({}, {})).toBe('json');
    expect(logFormat({}, { isTTY: true })).toBe('pretty');
    expect(logFormat({ SLUICE_LOG_FORMAT: 'json' }, { isTTY: true })).toBe('json');
    expect(logFormat({ SLUICE_LOG_FORMAT: 'pretty' }, { isTTY: false })).toBe('pretty');
    expect(logFormat({ SLUICE_LOG_FORMAT: 'xml' }, { isTTY: false })).toBe('json');
  });
});
