/**
 * Control characters in log text are shown escaped (`\x1b`) on a terminal: a log line is
 * written by whoever controls the service, and must not move the cursor, retitle the window
 * or hide text on the terminal of whoever reads it (sluice search, sluice tap). Newlines and
 * tabs of multi-line events stay.
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** JSON already escapes C0 controls; DEL and C1 controls (U+007F to U+009F) are escaped too. */
const JSON_CONTROL = /[\x7f-\x9f]/g;

export function escapeJsonControl(json: string): string {
  return json.replace(JSON_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
