import { describeError } from './describe-error';
import { redactText, redactUrl } from './redact';

describe('describeError', () => {
  it('gives name, message and code of an Error', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5672'), { code: 'ECONNREFUSED' });
    expect(describeError(error)).toBe('Error: connect ECONNREFUSED 127.0.0.1:5672');
    const coded = Object.assign(new Error('refused'), { code: 'E42' });
    expect(describeError(coded)).toBe('Error: refused (code E42)');
  });

  it('never says [object Object] for a plain object a driver rejects with', () => {
    const fromManager = { err: new Error('Socket closed abruptly'), url: 'amqp://guest:secret@broker:5672' };
    expect(describeError(fromManager)).toBe('Error: Socket closed abruptly');
    expect(describeError({ message: 'channel closed', code: 406 })).toBe('channel closed (code 406)');
    expect(describeError({ reason: 'x' })).toBe('{"reason":"x"}');
    expect(describeError(undefined)).toBe('undefined');
  });

  it('describes the cause and the errors of an AggregateError', () => {
    expect(describeError(new Error('outer', { cause: new Error('inner') }))).toBe('Error: outer [cause: Error: inner]');
    expect(describeError(new AggregateError([new Error('a'), new Error('b')], 'all failed'))).toBe(
      'AggregateError: all failed: Error: a; Error: b',
    );
  });

  it('masks credentials', () => {
    expect(describeError(new Error('cannot reach amqp://guest:guest@host:5672'))).toBe(
      'Error: cannot reach amqp://guest:***@host:5672',
    );
  });
});

describe('redaction', () => {
  it('masks a token query parameter and a password in a URL', () => {
    expect(redactUrl('ws://filter:3002/ingest?token=s3cret&x=1')).toBe('ws://filter:3002/ingest?token=***&x=1');
    expect(redactUrl('amqp://user:pw@host:5672/vh')).toBe('amqp://user:***@host:5672/vh');
  });

  it('masks them inside free text, up to the next space (a token may hold any character)', () => {
    expect(redactText('cannot connect to ws://f/ingest?token=a:b HTTP 401')).toBe(
      'cannot connect to ws://f/ingest?token=*** HTTP 401',
    );
    expect(redactText('GET /tail?access_token=abc&token=def')).toBe('GET /tail?access_token=***&token=***');
  });
});
