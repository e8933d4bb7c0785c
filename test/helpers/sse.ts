/** Server-Sent Events (/api/events) as the tests read them. */
export interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads Server-Sent Events from a fetch body until `until` says stop. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (e: SseEvent) => boolean,
) {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      if (!fields.event) continue;
      const e = { id: fields.id ?? '', event: fields.event, data: JSON.parse(fields.data ?? '{}') };
      events.push(e);
      if (until(e)) return events;
    }
  }
  return events;
}
