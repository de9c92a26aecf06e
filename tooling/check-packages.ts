// Checks what each published package ships, after `pnpm build`: publint (package.json fields
// against the files) and @arethetypeswrong/cli (types resolve, and as the right module format,
// under node10, node16 from CJS and ESM, and bundlers). Both run offline from devDependencies.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const packages = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => {
    try {
      return !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private;
    } catch {
      return false;
    }
  });

const checks: Array<[tool: string, args: string[]]> = [
  ['publint', ['--strict']],
  ['attw', ['--pack', '.', '--format', 'table-flipped']],
];
const failed: string[] = [];
for (const dir of packages) {
  const name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
  for (const [tool, args] of checks) {
    const result = spawnSync(bin(tool), args, { cwd: dir, stdio: 'inherit' });
    if (result.status !== 0) failed.push(`${name}: ${tool} (exit ${result.status ?? result.signal})`);
  }
}
if (failed.length) {
  console.error(`\nPackage checks failed:\n  ${failed.join('\n  ')}`);
  process.exit(1);
}
console.log(`\npublint and attw: ${packages.length} packages clean`);
