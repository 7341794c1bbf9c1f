/** Masks the password of a connection string (`amqp://user:***@host`), for logs and health output. */
export function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return value.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

/** Replaces every credential-bearing URL inside free text (error messages from drivers). */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]*@/gi, '$1***@');
}
