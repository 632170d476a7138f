/**
 * master/cheaper: uWSGI's `spare` cheaper algorithm as a small state machine, fed once a second with
 * which workers are busy. All busy for `cheaper-overload` checks in a row: grow (by `cheaper-step`).
 * Not overloaded and more than one idle worker: every `cheaper-overload` checks, retire one, down to
 * `cheaper`. One idle worker is "stable": nothing changes.
 * Must not: touch processes (master/monitor acts on the decision).
 */
export type CheaperDecision = 'grow' | 'shrink' | 'hold';

export class SpareAlgorithm {
  private overload = 0;
  private idle = 0;

  constructor(private readonly overloadChecks: number) {}

  decide(busy: readonly boolean[], canGrow: boolean, canShrink: boolean): CheaperDecision {
    const allBusy = busy.length > 0 && busy.every(Boolean);
    if (allBusy) {
      this.overload++;
      this.idle = 0;
    } else if (this.overload > 0) {
      this.overload--;
    }
    if (canGrow && this.overload >= this.overloadChecks) {
      this.overload = 0;
      return 'grow';
    }
    if (this.overload > 0) return 'hold';
    const idleWorkers = busy.filter((b) => !b).length;
    if (idleWorkers === 1) return 'hold'; // one spare worker: stable
    this.idle++;
    if (canShrink && this.idle % this.overloadChecks === 0) return 'shrink';
    return 'hold';
  }
}
