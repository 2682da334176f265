"use client";
// Time-series charts for the live views (uPlot: small, canvas, fast enough for a point a second).
// Missing seconds (null: the node did not report) are gaps in the line, never zero.
import { useEffect, useRef } from "react";
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  values: readonly (number | null)[];
  /** Which y axis: 0 = left, 1 = right. */
  axis?: 0 | 1;
}

const PALETTE = ["#4f46e5", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

/** 1234 → "1.2k", 5_600_000 → "5.6M". */
export function siText(n: number | null | undefined, unit = ""): string {
  if (n === null || n === undefined) return "no data";
  const abs = Math.abs(n);
  const [v, p] = abs >= 1e9 ? [n / 1e9, "G"] : abs >= 1e6 ? [n / 1e6, "M"] : abs >= 1e3 ? [n / 1e3, "k"] : [n, ""];
  const digits = p === "" ? (Number.isInteger(v) ? 0 : 1) : v < 10 ? 2 : 1;
  return `${v.toFixed(digits)}${p ? ` ${p}` : unit ? " " : ""}${unit}`.replace(/ $/, "");
}

/** Bytes per second in decimal units: "1.25 MB/s". */
export const bytesRateText = (n: number | null | undefined) => (n === null || n === undefined ? "no data" : siText(n, "B/s"));

export function TimeChart({
  label,
  from,
  series,
  units,
  height = 180,
}: {
  label: string;
  /** Epoch seconds of the first point; points are 1 s apart. */
  from: number;
  series: ChartSeries[];
  /** Axis labels, left then right. */
  units: [string, string?];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}@${s.axis ?? 0}`).join("|");
  const data = (): uPlot.AlignedData => {
    const n = Math.max(0, ...series.map((s) => s.values.length));
    const xs = Array.from({ length: n }, (_, i) => from + i);
    return [xs, ...series.map((s) => s.values as (number | null)[])];
  };
  const dataRef = useRef(data);
  dataRef.current = data;

  // (Re)build when the series themselves change; otherwise only the data is replaced.
  useEffect(() => {
    let cancelled = false;
    let observer: ResizeObserver | null = null;
    void import("uplot").then(({ default: UPlot }) => {
      if (cancelled || !box.current) return;
      const el = box.current;
      const right = series.some((s) => s.axis === 1);
      const opts: uPlot.Options = {
        width: el.clientWidth || 300,
        height,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, y2: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [
          { stroke: "#64748b", grid: { stroke: "#f1f5f9" } },
          { label: units[0], stroke: "#64748b", grid: { stroke: "#f1f5f9" }, values: (_u, ticks) => ticks.map((t) => siText(t)), size: 60 },
          ...(right ? [{ label: units[1] ?? "", side: 1 as const, scale: "y2", stroke: "#64748b", grid: { show: false }, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => siText(t)), size: 60 }] : []),
        ],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            scale: s.axis === 1 ? "y2" : "y",
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => siText(v),
          })),
        ],
      };
      plot.current = new UPlot(opts, dataRef.current(), el);
      observer = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height }));
      observer.observe(el);
    });
    return () => {
      cancelled = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series' shape changes; new points go through setData below.
  }, [shape, height, units[0], units[1]]);

  useEffect(() => {
    plot.current?.setData(data());
  });

  // Seconds with data in any series (tests and screen readers: is the chart filling?).
  const filled = Array.from({ length: Math.max(0, ...series.map((s) => s.values.length)) }, (_, i) => series.some((s) => s.values[i] != null)).filter(Boolean).length;
  return (
    // overflow-hidden: the canvas is drawn at its first width until the resize observer catches up.
    <figure className="min-w-0 overflow-hidden" data-chart={label} data-filled={filled}>
      <figcaption className="sr-only">{label}</figcaption>
      <div ref={box} className="w-full" role="img" aria-label={`${label}: ${series.map((s) => `${s.label} ${siText(lastValue(s.values))}`).join(", ")}`} />
    </figure>
  );
}

function lastValue(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
  return null;
}
