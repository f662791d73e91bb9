'use strict';

/**
 * Parse a Server-Sent Events byte stream (a ReadableStream of Uint8Array) into events:
 * { type, data, lastEventId, retry }. Follows the WHATWG event-stream rules: lines end
 * with CRLF, LF or CR (possibly split across chunks); ":" starts a comment; one space
 * after the colon is dropped; data lines are joined with "\n"; a blank line dispatches;
 * an event with no data is dropped; the id and retry persist across events; an
 * unfinished event at the end of the stream is discarded.
 */
async function* parseSSE(stream) {
  const reader = stream.getReader();
  const decoder = new TextDecoder('utf-8');
  let buf = '';
  let started = false;
  let pendingCR = false;
  let type = '';
  let data = '';
  let hasData = false;
  let lastEventId = '';
  let retry;
  const ready = [];

  function onLine(line) {
    if (line === '') {
      if (hasData) {
        ready.push({
          type: type || 'message',
          data: data.endsWith('\n') ? data.slice(0, -1) : data,
          lastEventId,
          retry,
        });
      }
      type = '';
      data = '';
      hasData = false;
      return;
    }
    if (line[0] === ':') return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') {
      data += value + '\n';
      hasData = true;
    } else if (field === 'id') {
      if (!value.includes('\0')) lastEventId = value;
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) retry = Number(value);
    }
  }

  function feed(text) {
    buf += text;
    if (!started && buf.length > 0) {
      started = true;
      if (buf[0] === '\ufeff') buf = buf.slice(1);
    }
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (pendingCR) {
        pendingCR = false;
        if (c === '\n') {
          start = i + 1;
          continue;
        }
      }
      if (c === '\r' || c === '\n') {
        onLine(buf.slice(start, i));
        start = i + 1;
        pendingCR = c === '\r';
      }
    }
    buf = buf.slice(start);
  }

  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    feed(new TextDecoder().decode(value));
    while (ready.length > 0) yield ready.shift();
  }
  feed(decoder.decode());
  while (ready.length > 0) yield ready.shift();
}

module.exports = { parseSSE };
