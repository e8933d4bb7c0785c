/**
 * Sensor values that behave like sensors: a slow cycle (a day compressed into `cycleSeconds`)
 * with a phase of each device's own, plus a mean-reverting random walk (Ornstein–Uhlenbeck) for
 * the weather, kept within the sensor's range. Uniform noise would make every reading unrelated
 * to the one before; real temperature moves a little at a time.
 */
import { gaussian, type Random } from './random.js';

export interface DriftProfile {
  /** The value the walk returns to. */
  readonly mean: number;
  /** Half the peak-to-peak swing of the cycle. */
  readonly amplitude: number;
  /** Standard deviation of the walk's steady state. */
  readonly sigma: number;
  /** How fast the walk returns to the cycle, per second (θ). */
  readonly reversion: number;
  readonly min: number;
  readonly max: number;
  /** Decimal places the sensor reports. */
  readonly decimals: number;
}

/** The drifting sensors of every simulated device (one shared table). */
export const PROFILES = {
  temperature: {
    mean: 21,
    amplitude: 3,
    sigma: 0.8,
    reversion: 0.02,
    min: -40,
    max: 85,
    decimals: 2,
  },
  pressure: {
    mean: 101_325,
    amplitude: 250,
    sigma: 400,
    reversion: 0.005,
    min: 87_000,
    max: 108_500,
    decimals: 0,
  },
  analogInput: { mean: 5, amplitude: 2, sigma: 0.6, reversion: 0.05, min: 0, max: 10, decimals: 3 },
  signal: { mean: -75, amplitude: 4, sigma: 4, reversion: 0.03, min: -120, max: -40, decimals: 0 },
} as const satisfies Record<string, DriftProfile>;

/**
 * One step of the walk: `deviation` is the walk's state (the distance from the cycle), `phase`
 * the device's position in the cycle (radians), `t` seconds since the fleet started, `dt` the
 * seconds since the last step. Returns the new deviation and the reported value.
 */
export function driftStep(
  p: DriftProfile,
  deviation: number,
  phase: number,
  t: number,
  dt: number,
  cycleSeconds: number,
  random: Random,
): { deviation: number; value: number } {
  // Exact OU update: the variance stays sigma² whatever the step.
  const decay = Math.exp(-p.reversion * dt);
  const next = deviation * decay + p.sigma * Math.sqrt(1 - decay * decay) * gaussian(random);
  const cycle = p.amplitude * Math.sin((2 * Math.PI * t) / cycleSeconds + phase);
  const raw = p.mean + cycle + next;
  const clamped = Math.min(p.max, Math.max(p.min, raw));
  const scale = 10 ** p.decimals;
  return { deviation: clamped - p.mean - cycle, value: Math.round(clamped * scale) / scale };
}
