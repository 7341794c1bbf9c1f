/** The broker returned a `mandatory` message: no queue was bound, so nobody would receive it. */
export class UnroutableMessageError extends Error {
  override readonly name = 'UnroutableMessageError';
}
