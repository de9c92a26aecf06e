import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatPercent, formatRatio } from './format-numbers';

describe('formatCount', () => {
  it('keeps small integers and scales with K/M/B at three significant digits', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(512)).toBe('512');
    expect(formatCount(1_000)).toBe('1K');
    expect(formatCount(20_400)).toBe('20.4K');
    expect(formatCount(1_234_567)).toBe('1.23M');
    expect(formatCount(1_200_000)).toBe('1.2M');
    expect(formatCount(737_670_000)).toBe('738M');
    expect(formatCount(11_307_320_000)).toBe('11.3B');
    expect(formatCount(12.345)).toBe('12.3');
  });

  it('moves to the next unit when rounding reaches 1000', () => {
    expect(formatCount(999_950)).toBe('1M');
    expect(formatCount(999.96)).toBe('1K');
  });
});

describe('formatBytes', () => {
  it('uses decimal units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(4_120)).toBe('4.12 kB');
    expect(formatBytes(81_984)).toBe('82 kB');
    expect(formatBytes(210_000_000)).toBe('210 MB');
    expect(formatBytes(20_700_000_000)).toBe('20.7 GB');
  });
});

describe('formatPercent', () => {
  it('uses one decimal from 10, two below, two significant digits below 0.01', () => {
    expect(formatPercent(100)).toBe('100.0%');
    expect(formatPercent(10.481)).toBe('10.5%');
    expect(formatPercent(0.45)).toBe('0.45%');
    expect(formatPercent(0.017)).toBe('0.02%');
    expect(formatPercent(0.0047)).toBe('0.0047%');
    expect(formatPercent(0)).toBe('0%');
  });
});

describe('formatRatio', () => {
  it('prints two decimals and a times sign', () => {
    expect(formatRatio(0.5)).toBe('0.50×');
    expect(formatRatio(1.234)).toBe('1.23×');
  });
});
