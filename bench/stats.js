// Small statistics helpers for the repeated-measurement workloads (g2, h, i).
const sorted = (xs) => [...xs].sort((a, b) => a - b);

/** Median (mean of the middle two for an even count). */
export function median(xs) {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in (0, 100]. */
export function percentile(xs, p) {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
