// A list read a page at a time with the server's keyset cursor ("show more" appends the next
// page). Shared by the findings and hosts tables. An answer that arrives after the query changed
// (a filter clicked while a page was loading) is dropped, so it never overwrites newer rows.
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Page<T> {
  rows: T[];
  next: string | null;
}

export interface PagedList<T> {
  rows: T[];
  next: string | null;
  error: unknown;
  loading: boolean;
  more: () => void;
  reload: () => void;
}

export function usePagedList<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>, deps: readonly unknown[], delayMs = 0): PagedList<T> {
  const [rows, setRows] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;

  const load = (cursor: string | null, replace: boolean) => {
    const mine = replace ? ++generation.current : generation.current;
    setLoading(true);
    fetcher.current(cursor).then(
      (page) => {
        if (mine !== generation.current) return;
        setRows((previous) => (replace ? page.rows : [...previous, ...page.rows]));
        setNext(page.next);
        setError(undefined);
        setLoading(false);
      },
      (failure: unknown) => {
        if (mine !== generation.current) return;
        setError(failure);
        setLoading(false);
      },
    );
  };
  useEffect(() => {
    setRows([]);
    const timer = setTimeout(() => load(null, true), delayMs);
    return () => clearTimeout(timer);
  }, deps);
  return { rows, next, error, loading, more: () => next !== null && load(next, false), reload: () => load(null, true) };
}
