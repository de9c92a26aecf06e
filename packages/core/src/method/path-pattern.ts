import { z } from 'zod';

/**
 * A pattern over dotted paths: a glob (`encoder.layers.*.attention.query`, `**.bias`), a RegExp,
 * or `{ regex, flags? }` (the JSON-serialisable form of a RegExp, for saved configs).
 * In globs `*` matches within one path segment and a `**` segment matches any number of segments
 * (zero included). Globs match the whole path; a RegExp is searched (anchor it yourself).
 */
export const pathPatternSchema = z.union([
  z.string().min(1),
  z.instanceof(RegExp),
  z.strictObject({
    /** RegExp source. */
    regex: z.string().min(1),
    /** RegExp flags (`i`); `g` and `y` are ignored. */
    flags: z.string().regex(/^[dimsuv]*$/).optional(),
  }),
]);
export type PathPattern = z.output<typeof pathPatternSchema>;

/** Compiles a pattern to a predicate over dotted paths. */
export function compilePathPattern(pattern: PathPattern): (path: string) => boolean {
  if (typeof pattern === 'string') return compileGlob(pattern);
  // A fresh, stateless copy: `g`/`y` would make test() depend on the previous call.
  const source = pattern instanceof RegExp ? pattern.source : pattern.regex;
  const flags = (pattern instanceof RegExp ? pattern.flags : pattern.flags ?? '').replace(/[gy]/g, '');
  const regex = new RegExp(source, flags);
  return (path) => regex.test(path);
}

/** The JSON form of a pattern (a RegExp becomes `{ regex, flags }`). */
export function pathPatternToJson(pattern: PathPattern): string | { regex: string; flags?: string } {
  if (!(pattern instanceof RegExp)) return pattern;
  return pattern.flags ? { regex: pattern.source, flags: pattern.flags } : { regex: pattern.source };
}

function compileGlob(glob: string): (path: string) => boolean {
  const segments = glob.split('.').map((segment) => (segment === '**' ? '**' : segmentRegex(segment)));
  return (path) => matchSegments(segments, 0, path === '' ? [] : path.split('.'), 0);
}

function segmentRegex(segment: string): RegExp {
  const escaped = segment.replace(/[\\^$+?.()|[\]{}]/g, '\\$&').replace(/\*/g, '[^.]*');
  return new RegExp(`^${escaped}$`);
}

function matchSegments(pattern: ReadonlyArray<RegExp | '**'>, p: number, path: readonly string[], s: number): boolean {
  if (p === pattern.length) return s === path.length;
  const head = pattern[p]!;
  if (head === '**') {
    for (let skip = s; skip <= path.length; skip++) if (matchSegments(pattern, p + 1, path, skip)) return true;
    return false;
  }
  return s < path.length && head.test(path[s]!) && matchSegments(pattern, p + 1, path, s + 1);
}
