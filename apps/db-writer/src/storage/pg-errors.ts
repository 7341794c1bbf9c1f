/**
 * PostgreSQL refuses the data itself (SQLSTATE class 22 data exception, 23 integrity constraint):
 * retrying the same rows cannot succeed, so the message is dead-lettered. Everything else, such as
 * connection loss (08), shutdown (57P), resource limits (53), serialization (40) or a missing table
 * (42, an operator problem), is retried: dead-lettering valid records for those would lose them.
 */
export function isPermanentPgError(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const withCode = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = withCode.driverError?.code ?? withCode.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
