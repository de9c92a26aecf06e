/** Where the CLI writes; injectable so tests capture output without a terminal. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress bars are drawn only there). */
  stderrIsTTY: boolean;
  /** The stream progress bars draw on. */
  progressStream?: NodeJS.WritableStream;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    progressStream: process.stderr,
  };
}
