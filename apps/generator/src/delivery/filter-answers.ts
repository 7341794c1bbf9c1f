import type { Logger } from '@nestjs/common';
import type WebSocket from 'ws';
import { INGEST_ERROR_CODES } from '@dataflow/contracts';
import type { DataflowMetrics } from '@dataflow/observability';
import { LogSampler } from '@dataflow/observability/log-sampler';
import { parseFilterAnswer } from './filter-answer';

/** Log lines per second about refusals and malformed frames from the filter, at most. */
const ANSWER_LOGS_PER_SECOND = 10;

/** What an answer asks of the link. */
export interface AnswerOutcomes {
  /** These records are settled: acknowledged, or refused for good. */
  settle(seqs: readonly number[], outcome: 'acked' | 'refused'): void;
  /** Nothing of a frame was taken: back off and resend. */
  rateLimited(): void;
}

/**
 * The filter's answers, judged. A frame that does not follow the protocol is counted
 * (`dataflow_malformed_frames_total{peer="filter"}`) and logged, never thrown: its records stay
 * unacknowledged and are resent after the ack timeout, so nothing is lost. Log lines about answers
 * are sampled: a peer must not be able to flood the log.
 */
export class FilterAnswers {
  private readonly logs = new LogSampler(ANSWER_LOGS_PER_SECOND);

  constructor(
    private readonly source: string,
    private readonly metrics: DataflowMetrics,
    private readonly logger: Logger,
    private readonly outcomes: AnswerOutcomes,
  ) {
    metrics.declareRejections([...INGEST_ERROR_CODES, 'UNKNOWN']);
    metrics.logLinesSuppressed('filter_answer', 0);
  }

  handle(data: WebSocket.RawData, isBinary: boolean): void {
    const answer = isBinary
      ? ({ kind: 'malformed', problem: 'binary frame' } as const)
      : parseFilterAnswer(rawText(data), this.source);
    if (answer.kind === 'malformed') {
      this.metrics.malformedFrame('filter');
      this.log(`filter sent a frame that does not follow the protocol (${answer.problem}); ignored`);
      return;
    }
    if (answer.kind === 'ack') {
      if (answer.source === this.source) this.outcomes.settle(answer.seqs, 'acked');
      return;
    }
    const known = (code: string): string =>
      (INGEST_ERROR_CODES as readonly string[]).includes(code) ? code : 'UNKNOWN';
    if (answer.refused.length === 0) this.metrics.recordRejected(known(answer.code));
    for (const group of answer.refused) this.metrics.recordRejected(known(group.code), group.seqs.length);
    if (answer.code === 'RATE_LIMITED') {
      this.outcomes.rateLimited();
      return;
    }
    // Any other refusal is final for those records: resending the same bytes cannot succeed.
    const seqs = answer.refused.flatMap((group) => group.seqs);
    const which = seqs.length > 0 ? `${seqs.length} records (first seq ${seqs[0]})` : 'a frame';
    this.log(`filter refused ${which}: ${answer.code} ${answer.message}`, 'error');
    if (seqs.length > 0) this.outcomes.settle(seqs, 'refused');
  }

  private log(line: string, level: 'warn' | 'error' = 'warn'): void {
    const logged = this.logs.take(performance.now(), (suppressed) =>
      this.logger.warn(`${suppressed} more lines about the filter's answers were not logged in the last second`),
    );
    if (!logged) {
      this.metrics.logLinesSuppressed('filter_answer', 1);
      return;
    }
    if (level === 'error') this.logger.error(line);
    else this.logger.warn(line);
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
