import { describe, expect, it } from 'vitest';
import { EventLineParser, decodeEventLine, type LineResult } from '../../src/schema/event-lines.js';

const LOG = '{"v":1,"type":"log","level":"info","message":"héllo ✓"}';
const LAT = '{"v":1,"type":"latency","target":"cpu","samples":[1.5,2.25,3]}';

function feed(chunks: (string | Buffer)[]): LineResult[] {
  const p = new EventLineParser();
  const out: LineResult[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

describe('EventLineParser', () => {
  it('gives the same events for every split point of the byte stream, even inside UTF-8 sequences', () => {
    const bytes = Buffer.from(`${LOG}\n${LAT}\r\n\n${LOG}`);
    const whole = feed([bytes]);
    expect(whole.map((r) => r.ok)).toEqual([true, true, true]);
    for (let i = 1; i < bytes.length; i++) {
      const split = feed([bytes.subarray(0, i), bytes.subarray(i)]);
      expect(split).toEqual(whole);
    }
    // one byte at a time
    expect(feed([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
    const first = whole[0];
    expect(first.ok && first.event.type === 'log' && first.event.message).toBe('héllo ✓');
  });

  it('handles CRLF, blank and whitespace-only lines, and counts them in line numbers', () => {
    const out = feed([`\r\n  \n${LOG}\r\n\t\r\n${LAT}`]);
    expect(out.map((r) => r.line)).toEqual([3, 5]);
    expect(out.every((r) => r.ok)).toBe(true);
  });

  it('reports an over-long line as an error with its line number and keeps going', () => {
    const p = new EventLineParser({ maxLineBytes: 1024 });
    const out: LineResult[] = [];
    out.push(...p.push(`${LOG}\n`));
    out.push(...p.push('{"v":1,"type":"log","level":"info","message":"'));
    for (let i = 0; i < 10; i++) out.push(...p.push('x'.repeat(500)));
    out.push(...p.push(`"}\n${LAT}\n`));
    out.push(...p.end());
    expect(out.map((r) => r.ok)).toEqual([true, false, true]);
    const bad = out[1];
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.line).toBe(2);
      expect(bad.error).toMatch(/line 2: line of \d+ bytes exceeds the limit of 1024 bytes/);
    }
    expect(out[2].line).toBe(3);
  });

  it('survives a 10 MB line with bounded memory (default limit 4 MiB)', () => {
    const p = new EventLineParser();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const out: LineResult[] = [];
    for (let sent = 0; sent < 10 * 1024 * 1024; sent += chunk.length) {
      out.push(...p.push(chunk));
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    out.push(...p.push(`\n${LOG}\n`));
    expect(out).toHaveLength(2);
    expect(out[0].ok).toBe(false);
    expect(!out[0].ok && out[0].error).toMatch(/exceeds the limit of 4194304 bytes; skipped/);
    expect(out[1].ok).toBe(true);
    // Held bytes never exceed the limit (plus one chunk): far below 10 MB.
    expect(peak).toBeLessThan(6 * 1024 * 1024);
  });

  it('completes a last line without a newline at end()', () => {
    const p = new EventLineParser();
    expect(p.push(LOG)).toEqual([]);
    const out = p.end();
    expect(out).toHaveLength(1);
    expect(out[0].ok).toBe(true);
  });
});

describe('decodeEventLine', () => {
  const table: [string, string, RegExp][] = [
    ['invalid JSON', '{"v":1,', /^line 7: invalid JSON/],
    ['not an object', '[1,2]', /^line 7: expected a JSON object, got an array/],
    ['null', 'null', /got null/],
    ['missing version', '{"type":"log","level":"info","message":"x"}', /missing protocol version "v" \(expected 1\)/],
    ['wrong version', '{"v":2,"type":"log","level":"info","message":"x"}', /protocol version 2 is not supported \(this paddock speaks v1\)/],
    ['unknown type', '{"v":1,"type":"telemetry"}', /unknown event type "telemetry" \(known: step, progress, log, latency/],
    ['missing type', '{"v":1}', /unknown event type undefined/],
    ['bad sample', '{"v":1,"type":"latency","target":"t","samples":[1,"2"]}', /invalid latency event: samples\[1\]:/],
    ['negative sample', '{"v":1,"type":"latency","target":"t","samples":[-1]}', /samples\[0\]/],
    ['empty batch', '{"v":1,"type":"latency","target":"t","samples":[]}', /samples/],
    ['bad level', '{"v":1,"type":"log","level":"loud","message":"x"}', /invalid log event: level/],
    ['bad sha', '{"v":1,"type":"artifact","path":"a","sha256":"xyz","bytes":1,"role":"onnx"}', /sha256: a lowercase hex sha256/],
    ['bad verdict', '{"v":1,"type":"verdict","gate":"g","verdict":"maybe"}', /invalid verdict event: verdict/],
    ['bad step status', '{"v":1,"type":"step","status":"exploded"}', /invalid step event: status/],
    ['metric NaN as string', '{"v":1,"type":"metric","name":"m","value":"NaN"}', /invalid metric event: value/],
    ['failure without title', '{"v":1,"type":"failure","id":"f1","kind":"missed","severity":"major"}', /invalid failure event: title/],
  ];
  it.each(table)('%s -> a visible error naming the line', (_name, text, re) => {
    const r = decodeEventLine(text, 7);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.line).toBe(7);
      expect(r.error).toMatch(re);
    }
  });

  it('accepts every kind of event', () => {
    const good = [
      '{"v":1,"type":"step","status":"started"}',
      '{"v":1,"type":"progress","done":3,"total":10,"unit":"frames"}',
      LOG,
      LAT,
      '{"v":1,"type":"metric","name":"coco.ap","value":0.41,"slice":"night","target":"cpu-fp32","ci":{"lo":0.38,"hi":0.44},"denominators":{"scenes":12,"frames":340,"objects":1210}}',
      '{"v":1,"type":"failure","id":"f1","kind":"missed","severity":"major","title":"pedestrian missed at 31 m","evidence":[{"path":"frames/12.png","frames":[10,14]}],"data":{"iou":0.2}}',
      '{"v":1,"type":"artifact","path":"model.onnx","sha256":"' + 'a'.repeat(64) + '","bytes":10,"role":"onnx"}',
      '{"v":1,"type":"verdict","gate":"night-ap","verdict":"review","rationale":["AP dropped 0.02"]}',
    ];
    for (const [i, text] of good.entries()) {
      const r = decodeEventLine(text, i + 1);
      expect(r.ok, !r.ok ? r.error : '').toBe(true);
    }
    const m = decodeEventLine(good[4], 1);
    expect(m.ok && m.event.type === 'metric' && m.event.ci?.level).toBe(0.95);
  });
});
