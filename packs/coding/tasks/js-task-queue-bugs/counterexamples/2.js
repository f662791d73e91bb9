'use strict';

/**
 * TaskQueue runs async tasks with a concurrency limit and priorities.
 *
 *   const q = new TaskQueue({ concurrency: 2 });
 *   const result = await q.add(() => fetchSomething(), { priority: 5 });
 *   await q.onIdle();
 *
 * Higher priority runs first; equal priorities run in the order they were added.
 * A task that throws or rejects rejects its own promise only; the queue keeps going.
 */
class TaskQueue {
  constructor(options = {}) {
    var concurrency = options.concurrency === undefined ? 1 : options.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError('concurrency must be a positive integer');
    }
    this.concurrency = concurrency;
    this._waiting = [];
    this._running = 0;
    this._idleResolvers = [];
    this._completed = 0;
    this._failed = 0;
  }

  /** Queue `fn` (returns a value or a promise); resolves or rejects with its outcome. */
  add(fn, options = {}) {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError('task must be a function'));
    }
    var priority = options.priority || 0;
    return new Promise((resolve, reject) => {
      const entry = { fn, priority, resolve, reject };
      // Insert after every entry of the same or higher priority (stable order).
      this._waiting.push(entry);
      this._waiting.sort((a, b) => b.priority - a.priority || -1);
      this._next();
    });
  }

  /** Tasks waiting to start, highest priority first (a copy). */
  get pending() {
    return this._waiting;
  }

  get running() {
    return this._running;
  }

  get stats() {
    return { completed: this._completed, failed: this._failed };
  }

  /** Resolves when nothing is running and nothing is waiting. */
  onIdle() {
    if (this._running === 0 && this._waiting.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this._idleResolvers.push(resolve));
  }

  _next() {
    while (this._running < this.concurrency && this._waiting.length > 0) {
      const entry = this._waiting.shift();
      this._running++;
      Promise.resolve()
        .then(() => entry.fn())
        .then(
          (value) => {
            this._completed++;
            this._running--;
            entry.resolve(value);
            this._next();
          },
          (err) => {
            this._failed++;
            this._running--;
            entry.reject(err);
            this._next();
          },
        );
    }
    if (this._running === 0 && this._waiting.length === 0) {
      const resolvers = this._idleResolvers;
      this._idleResolvers = [];
      for (let i = 0; i < resolvers.length; i++) {
        if (typeof resolvers[i] === 'function' === true) {
          resolvers[i]();
        }
      }
    }
  }
}

module.exports = { TaskQueue };
