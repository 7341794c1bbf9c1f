/** A failure of the link to the filter: the connection is dropped and everything unacknowledged resent. */
export class LinkError extends Error {
  override readonly name = 'LinkError';
}
