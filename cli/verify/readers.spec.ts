import { mongoFilter } from './readers';

describe('mongoFilter', () => {
  it('selects one source without a window', () => {
    expect(mongoFilter({}, 's')).toEqual({ source: 's' });
    expect(mongoFilter({}, undefined)).toEqual({});
  });

  it('selects documents by head or by a nested record inside the window', () => {
    expect(mongoFilter({ fromSeq: 10, toSeq: 20, since: 5 }, 's')).toEqual({
      source: 's',
      $or: [
        { seq: { $gte: 10, $lte: 20 }, timestamp: { $gte: 5 } },
        { 'nestedRecords.seq': { $gte: 10, $lte: 20 }, 'nestedRecords.timestamp': { $gte: 5 } },
      ],
    });
    expect(mongoFilter({ until: 9 }, undefined)).toEqual({
      $or: [{ timestamp: { $lt: 9 } }, { 'nestedRecords.timestamp': { $lt: 9 } }],
    });
  });
});
