/**
 * master/signals: the master's signals, handled as gunicorn's arbiter does: a handler only enqueues,
 * and one drain step dispatches the queue from a table on the next turn of the event loop, so a
 * signal never runs master logic in the middle of something else.
 * Must not: decide what a signal means (the table's owner does).
 */
export type SignalName = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT';

export class SignalQueue {
  private readonly queue: SignalName[] = [];

  constructor(private readonly handlers: Readonly<Record<SignalName, () => void>>) {}

  /** Start listening to the process's signals. */
  listen(): void {
    for (const sig of Object.keys(this.handlers) as SignalName[]) process.on(sig, () => this.enqueue(sig));
  }

  /** What a signal would do, asked for from inside (the master fifo, touch-reload). */
  enqueue(sig: SignalName): void {
    this.queue.push(sig);
    setImmediate(() => this.drain());
  }

  private drain(): void {
    for (let sig = this.queue.shift(); sig !== undefined; sig = this.queue.shift()) this.handlers[sig]();
  }
}
