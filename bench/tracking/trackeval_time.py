"""Times TrackEval (HOTA + CLEAR + Identity, MOTChallenge 2D boxes) on the sequences bench/tracking.ts
evaluates, and writes bench/tracking/trackeval_recorded.json: the timings, TrackEval's HOTA (19
alphas), MOTA and IDF1 per sequence and COMBINED_SEQ, the files' sha256, and the machine.

Two sets: build/tracking-bench/ (written by bench/tracking.ts: run the bench once first) and the
committed test/fixtures/tracking/cases. TrackEval is called as test/fixtures/tracking/run_trackeval.py
calls it (MotChallenge2DBox, MOT17, DO_PREPROC, THRESHOLD 0.5, np.float/int/bool set back to
the builtins), on a copy of each set laid out as MOTChallenge folders (the copy is not timed).

Timed, RUNS runs each, one process, after one warm-up run:
  evaluate_total  Evaluator.evaluate end to end (read, IoU, preprocess, the three metrics and
                  Count, combine over sequences and classes; printing and output files off)
  load            dataset.get_raw_seq_data per sequence (read the text, IoU per frame)
  iou             the IoU part of load (_calculate_similarities)
  preprocess      dataset.get_preprocessed_seq_data (distractor removal, id relabelling)
  metrics         HOTA, CLEAR and Identity eval_sequence per sequence
  combine         their combine_sequences over the set

Usage: /usr/bin/python3 bench/tracking/trackeval_time.py [/path/to/TrackEval]   (default .scratch/trackeval)
"""
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import scipy

# TrackEval 12c8791b still uses the aliases numpy 1.24 removed; they were the builtins.
np.float = float
np.int = int
np.bool = bool

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COMMIT = '12c8791b303e0a0b50f753af204249e622d0281a'
RUNS = 3
FILES = ['gt.txt', 'tracker.txt', 'seqinfo.ini']
SETS = {'generated': os.path.join(ROOT, 'build', 'tracking-bench'),
        'fixtures': os.path.join(ROOT, 'test', 'fixtures', 'tracking', 'cases')}


def plain(v):
    f = float(v)
    return None if math.isnan(f) else f


def digest(src, names):
    """bench/tracking.ts's digest: per sequence by name, per file, 'name/file\\n' then its bytes."""
    h = hashlib.sha256()
    for n in sorted(names):
        for f in FILES:
            h.update(('%s/%s\n' % (n, f)).encode())
            with open(os.path.join(src, n, f), 'rb') as fh:
                h.update(fh.read())
    return h.hexdigest()


def layout(src, names, work):
    seq_info = {}
    for n in names:
        os.makedirs(os.path.join(work, 'gt', n, 'gt'))
        shutil.copy(os.path.join(src, n, 'gt.txt'), os.path.join(work, 'gt', n, 'gt', 'gt.txt'))
        shutil.copy(os.path.join(src, n, 'seqinfo.ini'), os.path.join(work, 'gt', n, 'seqinfo.ini'))
        os.makedirs(os.path.join(work, 'trackers', 'paddock', 'data'), exist_ok=True)
        shutil.copy(os.path.join(src, n, 'tracker.txt'), os.path.join(work, 'trackers', 'paddock', 'data', n + '.txt'))
        with open(os.path.join(src, n, 'seqinfo.ini')) as fh:
            seq_info[n] = int([l for l in fh if l.startswith('seqLength=')][0].split('=')[1])
    return seq_info


def objects(trackeval, work, seq_info):
    eval_config = trackeval.Evaluator.get_default_eval_config()
    eval_config.update({'PRINT_RESULTS': False, 'PRINT_CONFIG': False, 'TIME_PROGRESS': False,
                        'OUTPUT_SUMMARY': False, 'OUTPUT_DETAILED': False, 'PLOT_CURVES': False,
                        'USE_PARALLEL': False})
    ds_config = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    ds_config.update({'GT_FOLDER': os.path.join(work, 'gt'), 'TRACKERS_FOLDER': os.path.join(work, 'trackers'),
                      'BENCHMARK': 'MOT17', 'SPLIT_TO_EVAL': 'train', 'SKIP_SPLIT_FOL': True,
                      'SEQ_INFO': seq_info, 'GT_LOC_FORMAT': '{gt_folder}/{seq}/gt/gt.txt',
                      'TRACKERS_TO_EVAL': ['paddock'], 'DO_PREPROC': True, 'PRINT_CONFIG': False,
                      'OUTPUT_FOLDER': os.path.join(work, 'out')})
    metrics = [trackeval.metrics.HOTA({'PRINT_CONFIG': False}),
               trackeval.metrics.CLEAR({'THRESHOLD': 0.5, 'PRINT_CONFIG': False}),
               trackeval.metrics.Identity({'THRESHOLD': 0.5, 'PRINT_CONFIG': False})]
    return trackeval.Evaluator(eval_config), trackeval.datasets.MotChallenge2DBox(ds_config), metrics


def end_to_end(trackeval, work, seq_info):
    evaluator, dataset, metrics = objects(trackeval, work, seq_info)
    t = time.perf_counter()
    res, msg = evaluator.evaluate([dataset], metrics)
    seconds = time.perf_counter() - t
    if msg['MotChallenge2DBox']['paddock'] != 'Success':
        raise SystemExit(msg)
    return seconds, res['MotChallenge2DBox']['paddock']


def phases(trackeval, work, seq_info):
    """The phases of trackeval.eval.eval_sequence and the COMBINED_SEQ step, timed apart."""
    _, dataset, metrics = objects(trackeval, work, seq_info)
    iou = [0.0]
    similarities = dataset._calculate_similarities

    def timed_similarities(gt, tr):
        t = time.perf_counter()
        r = similarities(gt, tr)
        iou[0] += time.perf_counter() - t
        return r

    dataset._calculate_similarities = timed_similarities
    load = pre = met = 0.0
    per_seq = {}
    for seq in sorted(seq_info):
        t = time.perf_counter()
        raw = dataset.get_raw_seq_data('paddock', seq)
        t1 = time.perf_counter()
        data = dataset.get_preprocessed_seq_data(raw, 'pedestrian')
        t2 = time.perf_counter()
        per_seq[seq] = {m.get_name(): m.eval_sequence(data) for m in metrics}
        t3 = time.perf_counter()
        load += t1 - t
        pre += t2 - t1
        met += t3 - t2
    t = time.perf_counter()
    for m in metrics:
        m.combine_sequences({s: r[m.get_name()] for s, r in per_seq.items()})
    comb = time.perf_counter() - t
    return {'load': load, 'iou': iou[0], 'preprocess': pre, 'metrics': met, 'combine': comb}


def record_set(trackeval, src):
    names = sorted(n for n in os.listdir(src) if os.path.isfile(os.path.join(src, n, 'seqinfo.ini')))
    if not names:
        raise SystemExit('%s holds no sequences: run `node scripts/run-bench.mjs tracking` first' % src)
    work = tempfile.mkdtemp()
    try:
        seq_info = layout(src, names, work)
        end_to_end(trackeval, work, seq_info)  # warm-up
        phases(trackeval, work, seq_info)
        seconds = {k: [] for k in ['evaluate_total', 'load', 'iou', 'preprocess', 'metrics', 'combine']}
        out = None
        for _ in range(RUNS):
            s, out = end_to_end(trackeval, work, seq_info)
            seconds['evaluate_total'].append(s)
            for k, v in phases(trackeval, work, seq_info).items():
                seconds[k].append(v)
    finally:
        shutil.rmtree(work)
    results = {}
    for key in names + ['COMBINED_SEQ']:
        r = out[key]['pedestrian']
        results[key] = {'HOTA': [plain(x) for x in r['HOTA']['HOTA']], 'MOTA': plain(r['CLEAR']['MOTA']),
                        'IDF1': plain(r['Identity']['IDF1'])}
    return {'dir': os.path.relpath(src, ROOT), 'sha256': digest(src, names), 'sequences': len(names),
            'frames': sum(seq_info.values()), 'seconds': seconds,
            'median_seconds': {k: statistics.median(v) for k, v in seconds.items()}, 'results': results}


def cpu_model():
    with open('/proc/cpuinfo') as fh:
        for line in fh:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '.scratch', 'trackeval')
    sys.path.insert(0, path)
    import trackeval
    load_before = os.getloadavg()[0]
    sets = {k: record_set(trackeval, src) for k, src in SETS.items()}
    load_after = os.getloadavg()[0]
    with open('/proc/meminfo') as fh:
        mem_kib = int(fh.readline().split()[1])
    doc = {
        'what': 'TrackEval HOTA + CLEAR + Identity timed on the sets bench/tracking.ts evaluates; written by bench/tracking/trackeval_time.py',
        'measured_at': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': {'cpu': cpu_model(), 'cores': os.cpu_count(), 'memGiB': round(mem_kib / 2 ** 20),
                    'load_average_1m': [load_before, load_after], 'python': platform.python_version(),
                    'numpy': np.__version__, 'scipy': scipy.__version__},
        'trackeval': {'commit': COMMIT, 'path': os.path.relpath(path, ROOT),
                      'config': 'MotChallenge2DBox MOT17 DO_PREPROC, HOTA(), CLEAR/Identity THRESHOLD 0.5, USE_PARALLEL False'},
        'runs': RUNS,
        'sets': sets,
    }
    out = os.path.join(HERE, 'trackeval_recorded.json')
    with open(out, 'w') as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.write('\n')
    for k, s in sets.items():
        m = s['median_seconds']
        print('%s: %d sequences, %d frames: evaluate %.3f s (load %.3f, of it IoU %.3f; preprocess %.3f; metrics %.3f; combine %.4f)'
              % (k, s['sequences'], s['frames'], m['evaluate_total'], m['load'], m['iou'], m['preprocess'], m['metrics'], m['combine']))
    print('load average %.2f -> %.2f; wrote %s' % (load_before, load_after, out))


if __name__ == '__main__':
    main()
