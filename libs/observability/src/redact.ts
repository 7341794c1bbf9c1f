/** Query parameters that carry a credential (`?token=` is how a browser or a WebSocket client may authenticate). */
const SECRET_PARAMS = /([?&](?:token|access_token|auth|password|passwd|secret|api_key|apikey|key)=)[^&#\s"']*/gi;

/**
 * Masks the credentials of a URL for logs and health output: the password of a connection string
 * (`amqp://user:***@host`) and credential query parameters (`ws://filter/ingest?token=***`).
 */
export function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(SECRET_PARAMS, '$1***');
  } catch {
    return redactText(value);
  }
}

/** Replaces every credential inside free text (error messages from drivers, URLs in log lines). */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]*@/gi, '$1***@').replace(SECRET_PARAMS, '$1***');
}
