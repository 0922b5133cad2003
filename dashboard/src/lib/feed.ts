// Live updates: a long-poll loop on GET /api/v1/events from a cursor. One request is in flight
// at a time; errors back off (the route answers 503 with Retry-After when its waiting threads are
// all taken), and the loop stops when the page unmounts.
import { useEffect, useRef } from 'preact/hooks';
import { api, type Schemas } from '../api/client';
import { nextBackoffMs } from './backoff';

export type FeedEvent = Schemas['FeedEvent'];

export function useFeed(after: number | undefined, onEvents: (events: FeedEvent[]) => void, org?: string): void {
  const handler = useRef(onEvents);
  handler.current = onEvents;
  useEffect(() => {
    if (after === undefined) return;
    const controller = new AbortController();
    let cursor = after;
    let backoff = 0;
    // A function, not the property: the loop's condition would narrow the property to false.
    const stopped = () => controller.signal.aborted;
    const loop = async () => {
      while (!stopped()) {
        try {
          const { data, response } = await api.GET('/api/v1/events', {
            params: { query: { after: cursor, wait: 25, limit: 200, ...(org ? { org } : {}) } },
            signal: controller.signal,
          });
          if (response.status === 401) return; // the session ended: the app shows the login
          if (data) {
            backoff = 0;
            cursor = data.next_after;
            if (data.events.length > 0) handler.current(data.events);
            continue;
          }
          const retry = Number(response.headers.get('Retry-After'));
          backoff = nextBackoffMs(backoff, Number.isFinite(retry) ? retry : null);
        } catch {
          if (stopped()) return;
          backoff = nextBackoffMs(backoff, null);
        }
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    };
    void loop();
    return () => controller.abort();
  }, [after, org]);
}
