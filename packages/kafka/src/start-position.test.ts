import { OptionError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { resolveStartFrom } from './start-position.ts';

describe('resolveStartFrom', () => {
  it('leaves the start unchosen by default, reading a new group from the earliest offset', () => {
    expect(resolveStartFrom(undefined, undefined)).toEqual({ chosen: undefined, fromBeginning: true });
  });

  it('counts either form as a choice', () => {
    expect(resolveStartFrom('earliest', undefined)).toEqual({ chosen: 'earliest', fromBeginning: true });
    expect(resolveStartFrom('latest', undefined)).toEqual({ chosen: 'latest', fromBeginning: false });
    expect(resolveStartFrom(undefined, true)).toEqual({ chosen: 'earliest', fromBeginning: true });
    expect(resolveStartFrom(undefined, false)).toEqual({ chosen: 'latest', fromBeginning: false });
  });

  it('takes a start time as a Date or epoch milliseconds', () => {
    const at = Date.UTC(2026, 10, 29, 12);
    expect(resolveStartFrom(new Date(at), undefined)).toEqual({ chosen: new Date(at), fromBeginning: true });
    expect(resolveStartFrom(at, undefined)).toEqual({ chosen: new Date(at), fromBeginning: true });
  });

  it('refuses both forms at once, and values that are no start', () => {
    expect(() => resolveStartFrom('latest', true)).toThrow(/startFrom or fromBeginning, not both/);
    for (const bad of ['beginning', new Date(Number.NaN), -1, 1.5, Number.POSITIVE_INFINITY, {}]) {
      expect(() => resolveStartFrom(bad, undefined)).toThrow(OptionError);
    }
    expect(() => resolveStartFrom(undefined, 'yes')).toThrow(/Invalid option fromBeginning: expected a boolean/);
  });
});
