/**
 * Does nothing. The rejection handler of a promise whose failure is already
 * handled (logged, or seen by another caller) and must not become unhandled.
 */
export function noop (): void {}
