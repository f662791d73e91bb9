const { parseSSE } = require('./sse.js');

function streamOf(chunks) {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(typeof ch === 'string' ? enc.encode(ch) : ch);
      c.close();
    },
  });
}
async function collect(chunks) {
  const out = [];
  for await (const e of parseSSE(streamOf(chunks))) out[out.length] = e;
  return out;
}
function bytewise(text) {
  const bytes = new TextEncoder().encode(text);
  const out = [];
  for (let i = 0; i < bytes.length; i++) out[i] = new Uint8Array([bytes[i]]);
  return out;
}
// One field of each event (read here, compared on the host).
async function fields(chunks, ...names) {
  const ev = await collect(chunks);
  const out = [];
  for (let i = 0; i < ev.length; i++) {
    const row = [];
    for (let j = 0; j < names.length; j++) row[j] = ev[i][names[j]];
    out[i] = names.length === 1 ? row[0] : row;
  }
  return out;
}

observe('single event', () => collect(['data: hello\n\n']));
observe('multi-line data', () => fields(['data: a\ndata: b\ndata:\n\n'], 'data'));
observe('event types reset after dispatch', () =>
  fields(['event: add\ndata: 1\n\nevent: remove\ndata: 2\n\ndata: 3\n\n'], 'type'));
observe('last event id persists and resets', () =>
  fields(['id: 7\ndata: x\n\ndata: y\n\nid\ndata: z\n\n'], 'lastEventId'));
observe('retry', () => fields(['retry: 3000\ndata: x\n\nretry: 12a\ndata: y\n\n'], 'retry'));
observe('CR, LF and CRLF line ends', () =>
  fields(['data: a\r\rdata: b\r\n\r\ndata: c\n\n'], 'data'));
observe('chunk boundaries everywhere', () => {
  const text = 'event: t\r\ndata: first\r\ndata: second\r\n\r\ndata: caf\u00e9 \u20ac\r\n\r\n';
  return fields(bytewise(text), 'type', 'data');
});
observe('comments, no space, unknown fields', () =>
  fields([': ping\ndata:nospace\nfoo: bar\ndata:  two spaces\n\n'], 'data'));
observe('BOM, empty data, events without data, unfinished event', () =>
  fields(['\ufeffdata\n\nevent: x\n\ndata: 1\n\ndata: 2'], 'data'));
observe('streams events before the end', async () => {
  let release;
  const gate = new Promise((r) => { release = r; });
  const enc = new TextEncoder();
  const stream = new ReadableStream({
    async start(c) {
      c.enqueue(enc.encode('data: early\n\n'));
      await gate;
      c.enqueue(enc.encode('data: late\n\n'));
      c.close();
    },
  });
  const it = parseSSE(stream);
  const first = await it.next();
  release();
  const second = await it.next();
  return [first.value.data, second.value.data];
});
