import { describe, expect, it } from 'vitest';
import { MYSQL_DEADLOCK, MYSQL_DUPLICATE_KEY, MYSQL_LOCK_WAIT_TIMEOUT, mysqlLockConflict, mysqlRetriable } from './mysql-errors.ts';

describe('MySQL error classes', () => {
  it('takes deadlocks and lock wait timeouts for lock conflicts, retriable, by errno', () => {
    for (const errno of [MYSQL_DEADLOCK, MYSQL_LOCK_WAIT_TIMEOUT]) {
      expect(mysqlLockConflict({ errno })).toBe(true);
      expect(mysqlRetriable({ errno })).toBe(true);
    }
  });

  it('takes a lost connection for retriable but not for a lock conflict (the fate of its statement is unknown)', () => {
    for (const error of [{ code: 'PROTOCOL_CONNECTION_LOST' }, { code: 'ECONNREFUSED' }, { errno: 2013 }, { errno: 1927 }]) {
      expect(mysqlRetriable(error)).toBe(true);
      expect(mysqlLockConflict(error)).toBe(false);
    }
  });

  it('never judges by message text: a duplicate key is not retriable, whatever its message says', () => {
    expect(mysqlRetriable({ errno: MYSQL_DUPLICATE_KEY, message: 'Deadlock found when trying to get lock' })).toBe(false);
    expect(mysqlRetriable(new Error('Lock wait timeout exceeded; try restarting transaction'))).toBe(false);
    expect(mysqlRetriable(null)).toBe(false);
    expect(mysqlRetriable({ errno: '1213' })).toBe(false);
  });
});
