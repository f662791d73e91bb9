// Observation runner for JavaScript and TypeScript (`node run.mjs FILE PER_CALL_MS`).
// The observation program calls the global observe(key, fn) once per expected key;
// fn's result (awaited) is encoded as typed JSON and printed, one line per key. The
// host compares; nothing here knows the expected values. fn gets trusted tools taken
// before the candidate's code ran (it may patch Date.now or Array.prototype.push):
// `now()` (ms), `record()` (a list: `.add(x)`, read back by returning it), `keys(o)`
// (Object.keys) and `file(name)` (a file's text as it was before any code ran).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// Taken before the candidate's code runs, so it cannot swap them under us (it can
// only make its own observations wrong, which fails anyway).
const writeSync = fs.writeSync;
const stringify = JSON.stringify;
const keysOf = Object.keys;
const isArray = Array.isArray;
const setTimer = setTimeout;
const dateNow = Date.now;
const apply = Reflect.apply;
const arrayPush = Array.prototype.push;
const freeze = Object.freeze;
const snapshot = new Map();
for (const name of fs.readdirSync('.')) {
  try {
    snapshot.set(name, fs.readFileSync(name, 'utf8'));
  } catch (e) {
    // a directory
  }
}
const mapGet = Map.prototype.get;
const weakAdd = WeakSet.prototype.add;
const weakHas = WeakSet.prototype.has;
const tools = freeze({
  keys: (o) => keysOf(o),
  file: (name) => apply(mapGet, snapshot, [name]),
  now: () => dateNow(),
  record: () => {
    const items = [];
    const rec = freeze({ add: (x) => { apply(arrayPush, items, [x]); }, items });
    apply(weakAdd, recorded, [rec]);
    return rec;
  },
});
const clearTimer = clearTimeout;

const [file, perCall] = process.argv.slice(2);
const limit = Number(perCall || 5000);
const queue = [];
globalThis.observe = (key, fn) => {
  queue[queue.length] = [String(key), fn];
};
process.on('unhandledRejection', () => {});
process.on('uncaughtException', () => {});

function why(e) {
  try {
    return e && e.message !== undefined ? String(e.name || 'Error') + ': ' + String(e.message) : String(e);
  } catch (err) {
    return 'unprintable error';
  }
}

function encode(v, depth, seen) {
  if (v === null) return null;
  switch (typeof v) {
    case 'boolean':
    case 'string':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : { $num: String(v) };
    case 'undefined':
      return { $undefined: true };
    case 'bigint':
      return { $bigint: String(v) };
    case 'function':
      return { $function: String(v.name || '') };
    case 'symbol':
      return { $symbol: String(v.description) };
    default:
  }
  if (depth > 32 || seen.has(v)) return { $cycle: true };
  if (apply(weakHas, recorded, [v])) return encode(v.items, depth, seen);
  seen.add(v);
  try {
    if (isArray(v)) {
      const out = [];
      for (let i = 0; i < v.length; i++) out[i] = encode(v[i], depth + 1, seen);
      return out;
    }
    if (v instanceof Map) {
      return { $map: [...v].map(([k, x]) => [encode(k, depth + 1, seen), encode(x, depth + 1, seen)]) };
    }
    if (v instanceof Set) return { $set: [...v].map((x) => encode(x, depth + 1, seen)) };
    if (v instanceof Date) return { $date: Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString() };
    if (v instanceof Error) return { $error: String(v.name), message: String(v.message) };
    const out = {};
    for (const k of keysOf(v)) out[k] = encode(v[k], depth + 1, seen);
    return out;
  } finally {
    seen.delete(v);
  }
}

// JSON text of encode()'s output, written here: JSON.stringify of an object consults
// toJSON along the prototype chain, which the candidate's code can define
// (Object.prototype.toJSON) to rewrite our lines. On a primitive it consults nothing.
function ser(x, depth) {
  if (x === null) return 'null';
  const t = typeof x;
  if (t === 'string' || t === 'boolean' || t === 'number') return stringify(x);
  if (depth > 40 || t !== 'object') throw new TypeError('not data');
  let s = '';
  if (isArray(x)) {
    for (let i = 0; i < x.length; i++) s += (i ? ',' : '') + ser(x[i], depth + 1);
    return '[' + s + ']';
  }
  for (const k of keysOf(x)) s += (s ? ',' : '') + stringify(k) + ':' + ser(x[k], depth + 1);
  return '{' + s + '}';
}

const recorded = new WeakSet();
const emit = (obj) => {
  let line;
  try {
    line = ser(obj, 0);
  } catch (e) {
    line = ser({ key: obj.key, error: 'unencodable value: ' + why(e) }, 0);
  }
  writeSync(1, '\n' + line + '\n');
};

try {
  await import(pathToFileURL(path.resolve(file)).href);
} catch (e) {
  writeSync(1, '\n' + stringify({ llmbench_load_error: why(e) }) + '\n');
  process.exit(3);
}
for (const [key, fn] of queue) {
  let timer;
  try {
    const value = await Promise.race([
      Promise.resolve().then(() => fn(tools)),
      new Promise((_, reject) => {
        timer = setTimer(() => reject(new Error('timed out after ' + limit + ' ms')), limit);
      }),
    ]);
    emit({ key, value: encode(value, 0, new Set()) });
  } catch (e) {
    emit({ key, error: why(e) });
  } finally {
    clearTimer(timer);
  }
}
process.exit(0);
