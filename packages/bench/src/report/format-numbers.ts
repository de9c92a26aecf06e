/** Formats for the report: short, at most three significant digits, trailing zeros dropped. */

const COUNT_UNITS = ['', 'K', 'M', 'B', 'T'] as const;
/** Decimal (SI) byte units: 1 MB = 10^6 bytes, as GPU memory is usually quoted. */
const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** `significant` digits, trailing zeros dropped: 1.20 -> "1.2", 82.0 -> "82". */
function significant(value: number, digits = 3): string {
  const text = value.toPrecision(digits);
  // Exponent forms ("2.07e+10") only occur before scaling and must keep their digits.
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}

/** Scales by 1000 until below 1000 (after rounding), then formats with a unit. */
function scaled(value: number, units: readonly string[], separator: string): string {
  let unit = 0;
  let scaledValue = value;
  // Round first so that 999,950 becomes "1M", not "1000K".
  while (unit < units.length - 1 && Number(significant(Math.abs(scaledValue))) >= 1000) {
    scaledValue /= 1000;
    unit += 1;
  }
  const number = unit === 0 && Number.isInteger(scaledValue) ? String(scaledValue) : significant(scaledValue);
  return `${number}${separator}${units[unit]}`;
}

/** A count with K/M/B suffixes: 512 -> "512", 20,400 -> "20.4K", 1,200,000 -> "1.2M". */
export function formatCount(value: number): string {
  return scaled(value, COUNT_UNITS, '');
}

/** Bytes in decimal units: 4,120 -> "4.12 kB", 210,000,000 -> "210 MB". */
export function formatBytes(value: number): string {
  return scaled(value, BYTE_UNITS, ' ');
}

/**
 * A percentage (already ×100): one decimal from 10 up ("100.0%", "12.5%"), two below ("0.45%"),
 * two significant digits below 0.01 ("0.0047%"), so small shares never print as "0.00%".
 */
export function formatPercent(value: number): string {
  if (value === 0) return '0%';
  const magnitude = Math.abs(value);
  if (magnitude >= 10) return `${value.toFixed(1)}%`;
  if (magnitude >= 0.01) return `${value.toFixed(2)}%`;
  return `${value.toPrecision(2)}%`;
}

/** A ratio to full fine-tuning: "0.50×". */
export function formatRatio(value: number): string {
  return `${value.toFixed(2)}×`;
}
