import type { CommonFlags } from './args.ts';

/** A progress line for long operations. */
export interface Progress {
  /** Replaces the progress line with `text`. */
  update(text: string): void;
  /** Ends the progress line (leaves its last text on screen). */
  end(): void;
}

/** Where a command writes its report (stdout) and its progress (stderr). */
export interface Output {
  line(text: string): void;
  /** Progress of long operations; {@link progressFor} decides whether it is shown. */
  progress: Progress;
}

/** A stream progress can be written to: stderr, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Progress that shows nothing. */
export const noProgress: Progress = { update: () => {}, end: () => {} };

/**
 * Progress on `stream`, redrawn in place, when `stream` is a terminal; nothing otherwise, so
 * logs and pipes get the final report only.
 */
export function ttyProgress(stream: ProgressStream): Progress {
  if (stream.isTTY !== true) return noProgress;
  let shown = false;
  return {
    update(text) {
      // Carriage return, then erase to the end of the line: one line redrawn in place.
      stream.write(`\r\x1b[K${text}`);
      shown = true;
    },
    end() {
      if (shown) stream.write('\n');
      shown = false;
    },
  };
}

/** The progress a command reports: none in `--json` mode, whose stderr may be parsed too. */
export function progressFor(out: Output, common: CommonFlags): Progress {
  return common.json ? noProgress : out.progress;
}

/** Prints `value` as one JSON document with `--json`, else the text lines of `table()`. */
export function print(out: Output, common: CommonFlags, value: unknown, table: () => string[]): void {
  if (common.json) out.line(JSON.stringify(value));
  else for (const l of table()) out.line(l);
}
