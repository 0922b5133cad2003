// How long the event feed's loop waits after a failed poll: the server's Retry-After when it
// gave one, else doubling from 1 s up to 30 s.
export function nextBackoffMs(previousMs: number, retryAfterSeconds: number | null): number {
  if (retryAfterSeconds !== null && retryAfterSeconds > 0) return Math.min(retryAfterSeconds * 1000, 60_000);
  return Math.min(Math.max(previousMs * 2, 1000), 30_000);
}
