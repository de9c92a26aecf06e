import { describe, expect, it } from 'vitest';
import { formatComparisonMarkdown, formatComparisonText } from './table';
import { reportFixture } from './test-fixture';

const caption =
  'Backend: cpu (JavaScript/WebAssembly kernels on CPU) · linux, 2 CPUs, Node v20.19.0 · task sotu-era (sequence-classification, test accuracy) · model bench-mini (1M parameters)';

describe('formatComparisonMarkdown', () => {
  it('renders the survey Table 5 columns, full first, numbers formatted', () => {
    const expected = [
      caption,
      '',
      '| method | seeds | accuracy ×100 (mean ± std) | trainable params (%) | changed params (%) | peak memory (×full) | train tok/s (% of full) | infer tok/s (% of full) | adapter size |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| full | 2 | 82.0 ± 2.8 | 1M (100.0%) | 1M (100.0%) | 210 MB (1.00×) | 1.1K (100.0%) | 4.2K (100.0%) | 4 MB |',
      '| bitfit | 1 | 75.0 ± — | 1K (0.10%) | 1K (0.10%) | 84 MB (0.40×) | 1.65K (150.0%) | 4.2K (100.0%) | 4.12 kB |',
      '| lora | 2 | 78.5 ± 0.7 | 20.4K (2.00%) | 306K (30.0%) | 105 MB (0.50×) | 1.32K (120.0%) | 3.15K (75.0%) | 82 kB |',
    ].join('\n');
    expect(formatComparisonMarkdown(reportFixture())).toBe(expected);
  });

  it('shows n/a for ratios and says so in the caption without a full run, and — for untracked changes', () => {
    const results = reportFixture();
    results.runs = results.runs.filter((run) => run.method !== 'full');
    results.runs[0]!.changedParameters = null;
    const lines = formatComparisonMarkdown(results).split('\n');
    expect(lines[0]).toBe(`${caption} · no "full" run: ratios n/a`);
    expect(lines[4]).toBe('| bitfit | 1 | 75.0 ± — | 1K (0.10%) | 1K (0.10%) | 84 MB (n/a) | 1.65K (n/a) | 4.2K (n/a) | 4.12 kB |');
    expect(lines[5]).toBe('| lora | 2 | 78.5 ± 0.7 | 20.4K (2.00%) | — | 105 MB (n/a) | 1.32K (n/a) | 3.15K (n/a) | 82 kB |');
  });
});

describe('formatComparisonText', () => {
  it('aligns columns: text left, numbers right, two spaces apart', () => {
    const expected = [
      caption,
      '',
      'method  seeds  accuracy ×100 (mean ± std)  trainable params (%)  changed params (%)  peak memory (×full)  train tok/s (% of full)  infer tok/s (% of full)  adapter size',
      '------  -----  --------------------------  --------------------  ------------------  -------------------  -----------------------  -----------------------  ------------',
      'full        2                  82.0 ± 2.8           1M (100.0%)         1M (100.0%)       210 MB (1.00×)            1.1K (100.0%)            4.2K (100.0%)          4 MB',
      'bitfit      1                    75.0 ± —            1K (0.10%)          1K (0.10%)        84 MB (0.40×)           1.65K (150.0%)            4.2K (100.0%)       4.12 kB',
      'lora        2                  78.5 ± 0.7         20.4K (2.00%)        306K (30.0%)       105 MB (0.50×)           1.32K (120.0%)            3.15K (75.0%)         82 kB',
    ].join('\n');
    expect(formatComparisonText(reportFixture())).toBe(expected);
  });
});
