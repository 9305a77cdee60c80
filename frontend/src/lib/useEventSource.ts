// A server-sent event stream for the life of a component. The browser's
// EventSource reconnects by itself after a dropped connection; when the
// server refuses the stream (an HTTP error closes it for good) we try again
// with a growing delay, and say so through `status`.
import { useEffect, useRef, useState } from "react";

export type StreamStatus = "connecting" | "open" | "reconnecting" | "off";

export interface StreamHandlers {
  /** event name -> handler of its parsed JSON data */
  events: Record<string, (data: unknown) => void>;
  /** Each time the stream (re)opens: catch up on what may have been missed. */
  onOpen?: () => void;
}

const MAX_DELAY_MS = 30_000;

export function useEventSource(url: string | null, handlers: StreamHandlers): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>(url ? "connecting" : "off");
  // The latest handlers, without reopening the stream when they change.
  const ref = useRef(handlers);
  ref.current = handlers;

  useEffect(() => {
    if (!url || typeof EventSource === "undefined") {
      setStatus("off");
      return;
    }
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let stopped = false;

    const open = () => {
      es = new EventSource(url);
      setStatus(failures ? "reconnecting" : "connecting");
      es.onopen = () => {
        failures = 0;
        setStatus("open");
        ref.current.onOpen?.();
      };
      es.onerror = () => {
        if (stopped || !es) return;
        if (es.readyState === EventSource.CLOSED) {
          es.close();
          failures += 1;
          setStatus("reconnecting");
          const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(failures - 1, 5));
          timer = setTimeout(open, delay);
        } else {
          setStatus("reconnecting");
        }
      };
      for (const name of Object.keys(ref.current.events)) {
        es.addEventListener(name, (ev) => {
          let data: unknown;
          try {
            data = JSON.parse((ev as MessageEvent<string>).data);
          } catch {
            return;
          }
          ref.current.events[name]?.(data);
        });
      }
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(timer);
      es?.close();
    };
  }, [url]);

  return status;
}
