import type { RouteDecision } from '../routing/record-router';
import { DeliveryLedger } from './delivery-ledger';

const route = (name: string): RouteDecision => ({ route: 'file', rule: name, version: 'v', sinks: ['file'] });

describe('DeliveryLedger', () => {
  it('starts each source from its persisted floor and only moves it forward', () => {
    const ledger = new DeliveryLedger((source) => (source === 'a' ? 7 : 0));
    expect(ledger.floor('a')).toBe(7);
    expect(ledger.advance('a', 5)).toBe(false);
    expect(ledger.advance('a', 9)).toBe(true);
    expect(ledger.floor('a')).toBe(9);
    expect(ledger.floor('b')).toBe(0);
  });

  it('keeps the routes of a failed hand-off above the floor until they are handed on', () => {
    const ledger = new DeliveryLedger(() => 2);
    const [old, first, second] = [route('old'), route('first'), route('second')];
    ledger.remember('a', [2, 3, 4], [old, first, second]);
    expect(ledger.routeOf('a', 2)).toBeUndefined();
    expect(ledger.routeOf('a', 3)).toBe(first);
    // A second failure keeps the first route of each record.
    ledger.remember('a', [3], [route('later')]);
    expect(ledger.routeOf('a', 3)).toBe(first);
    ledger.advance('a', 3);
    expect(ledger.routeOf('a', 3)).toBeUndefined();
    expect(ledger.routeOf('a', 4)).toBe(second);
  });
});
