import { describe, expect, it } from 'vitest';
import type { Output } from './output.ts';
import { noProgress, progressFor, ttyProgress } from './output.ts';

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

describe('progress', () => {
  it('redraws one line in place on a terminal and ends it with a newline', () => {
    const stream = fakeStream(true);
    const progress = ttyProgress(stream);
    progress.update('pruned 1000');
    progress.update('pruned 2000');
    progress.end();
    expect(stream.written).toEqual(['\r\x1b[Kpruned 1000', '\r\x1b[Kpruned 2000', '\n']);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const stream = fakeStream(false);
    const progress = ttyProgress(stream);
    progress.update('pruned 1000');
    progress.end();
    expect(stream.written).toEqual([]);
  });

  it('writes no newline when nothing was shown', () => {
    const stream = fakeStream(true);
    ttyProgress(stream).end();
    expect(stream.written).toEqual([]);
  });

  it('is silent in --json mode even on a terminal', () => {
    const out: Output = { line: () => {}, progress: ttyProgress(fakeStream(true)) };
    expect(progressFor(out, { json: true, schema: 'onceflow', databaseUrl: '' })).toBe(noProgress);
    expect(progressFor(out, { json: false, schema: 'onceflow', databaseUrl: '' })).toBe(out.progress);
  });
});
