// Label values that come from outside the package (an HTTP status a hook
// chose, a close code a client sent) are mapped onto bounded sets here.

import { CloseCode } from '../close-codes.js'

const SENT_CODES = new Set<number>(Object.values(CloseCode))

/** An HTTP status (100–599) or 101 as its own label; anything else `other`. */
export function statusLabel (statusCode: number): string {
  return Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 599 ? String(statusCode) : 'other'
}

/**
 * A close code as a label when RFC 6455 §7.4.1 defines it (1000–1015) or this package sends it
 * ({@link CloseCode}); a client's own code (any of 3000–4999) is `other`.
 */
export function closeCodeLabel (code: number): string {
  return (code >= 1000 && code <= 1015) || SENT_CODES.has(code) ? String(code) : 'other'
}
