declare module 'asciichart' {
  export interface PlotConfig {
    height?: number;
    offset?: number;
    padding?: string;
    format?: (x: number, i: number) => string;
    symbols?: string[];
    colors?: (string | undefined)[];
    min?: number;
    max?: number;
  }
  export function plot(series: number[] | number[][], config?: PlotConfig): string;
  export const red: string;
  export const green: string;
  export const blue: string;
  export const yellow: string;
  export const defaultColor: string;
  const asciichart: { plot: typeof plot; red: string; green: string; blue: string; yellow: string; defaultColor: string };
  export default asciichart;
}
