import { BACKEND_PREFERENCES, invalidArgument, type BackendPreference } from '@peftjs/core';

/** A whole number >= `min`; anything else names the option, the value and what is allowed. */
export function parseInteger(option: string, value: string, min = 1): number {
  const parsed = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min) invalidArgument(option, value, `an integer >= ${min}`);
  return parsed;
}

/** A finite number > 0. */
export function parsePositiveNumber(option: string, value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) invalidArgument(option, value, 'a number > 0 (e.g. 1e-3)');
  return parsed;
}

/** A comma-separated list of non-empty names. */
export function parseNameList(option: string, value: string): string[] {
  const names = value.split(',').map((name) => name.trim());
  if (names.length === 0 || names.some((name) => name === '')) invalidArgument(option, value, 'a comma-separated list of names (e.g. full,lora,bitfit)');
  return names;
}

/** A comma-separated list of integers >= 1, each once. */
export function parseIntegerList(option: string, value: string): number[] {
  const numbers = value.split(',').map((item) => {
    const parsed = Number(item);
    if (!/^\s*\d+\s*$/.test(item) || parsed < 1) invalidArgument(option, value, 'comma-separated integers >= 1 (e.g. 8,16,32)');
    return parsed;
  });
  if (new Set(numbers).size !== numbers.length) invalidArgument(option, value, 'each batch size once');
  return numbers;
}

export function parseBackend(option: string, value: string): BackendPreference {
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(value)) invalidArgument(option, value, BACKEND_PREFERENCES);
  return value as BackendPreference;
}
