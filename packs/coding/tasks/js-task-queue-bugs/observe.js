const { TaskQueue } = require('./queue.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A promise the code returned, or a value saying it threw instead of rejecting.
function settle(fn) {
  try {
    return fn();
  } catch (e) {
    return 'threw synchronously: ' + String(e && e.message);
  }
}

observe('respects the concurrency limit', async () => {
  const q = new TaskQueue({ concurrency: 2 });
  let active = 0;
  let peak = 0;
  const task = async () => {
    active++;
    if (active > peak) peak = active;
    await sleep(20);
    active--;
  };
  const ps = [];
  for (let i = 0; i < 5; i++) ps[i] = q.add(task);
  for (let i = 0; i < 5; i++) await ps[i];
  return peak;
});
observe('concurrency 1 runs one at a time', async ({ record }) => {
  const q = new TaskQueue();
  const log = record();
  const t = (n) => async () => {
    log.add('start' + n);
    await sleep(5);
    log.add('end' + n);
  };
  const a = q.add(t(1));
  const b = q.add(t(2));
  await a;
  await b;
  return log;
});
const rejected = new TaskQueue({ concurrency: 1 });
observe('a rejected task does not stall the queue/rejects', () =>
  settle(() => rejected.add(async () => { throw new Error('boom'); })));
observe('a rejected task does not stall the queue/next task', () => rejected.add(async () => 42));
observe('a rejected task does not stall the queue/stats', () => rejected.stats);
const throwing = new TaskQueue({ concurrency: 1 });
observe('a throwing sync task rejects too/rejects', () =>
  settle(() => throwing.add(() => { throw new Error('sync'); })));
observe('a throwing sync task rejects too/running', () => throwing.running);
observe('onIdle waits for queued tasks', async ({ record }) => {
  const q = new TaskQueue({ concurrency: 1 });
  const done = record();
  q.add(async () => { await sleep(10); done.add(1); });
  q.add(async () => { await sleep(10); done.add(2); });
  await q.onIdle();
  return done;
});
observe('onIdle before anything starts resolves only when the work is done', async () => {
  const q = new TaskQueue({ concurrency: 1 });
  let finished = false;
  const p = q.add(async () => { await sleep(10); finished = true; });
  await q.onIdle();
  const seen = finished;
  await p;
  return seen;
});
observe('priorities: higher first, equal ones in order', async ({ record }) => {
  const q = new TaskQueue({ concurrency: 1 });
  const order = record();
  const blocker = q.add(() => sleep(10));
  const t = (name) => async () => { order.add(name); };
  const all = [
    q.add(t('low-a'), { priority: 0 }),
    q.add(t('high-a'), { priority: 5 }),
    q.add(t('low-b'), { priority: 0 }),
    q.add(t('high-b'), { priority: 5 }),
    q.add(t('mid'), { priority: 2 }),
  ];
  await blocker;
  for (let i = 0; i < all.length; i++) await all[i];
  return order;
});
observe('pending is a copy', async () => {
  const q = new TaskQueue({ concurrency: 1 });
  const p1 = q.add(() => sleep(10));
  const p2 = q.add(() => 1, { priority: 3 });
  const snap = q.pending;
  snap.length = 0;
  const after = q.pending;
  await p1;
  await p2;
  return after;
});
observe('bad arguments/concurrency 0', () => new TaskQueue({ concurrency: 0 }));
observe('bad arguments/add a string', () => settle(() => new TaskQueue().add('nope')));
