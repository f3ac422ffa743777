#!/usr/bin/env python
"""Regenerate the benchmark records in nbs/ that the lessons and the README read, and stamp each in nbs/records.json
with its date, machine, command and commit. Tests prove the code works at smoke size on every CI run; these measure at
full size, and a contributor runs them when a lesson's numbers change:

    python tools/benchmark.py --machine "2-core CPU, no GPU, idle"          # every record
    python tools/benchmark.py timings top --machine "2-core CPU, no GPU, idle"   # some of them
    python tools/benchmark.py --list                                         # what each one measures, and how long it took last

Each benchmark writes its records to a scratch folder first (COLLAB_NB_RECORDS, which the lessons' benchmark cells
write to); only a benchmark that succeeds replaces its records in nbs/. Run it from a clone, with the package installed
(pip install -e ".[dev,scale]") and the data where `untar_data` finds it (FASTAI_HOME).
"""
import argparse, datetime, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nbs = root/'nbs'
META = nbs/'records.json'

BENCHMARKS = {   # name: what it runs, the records it writes, what it measures
    'timings': dict(writes=('timings.json',), kind='timings',
                    about="every notebook run alone (nbdev-test NOTEBOOK --timing), as a learner runs a lesson: its seconds and peak memory"),
    'suite': dict(writes=('suite.json',), kind='suite',
                  about="the README's test command (nbdev-test --n-workers 2 --timing): its seconds and peak memory"),
    'install': dict(writes=('install.json',), kind='install',
                    about="a fresh virtual environment with the README's install (CPU torch, then the dev extra): its size on disk, and the data sets'"),
    'leaderboard': dict(writes=('leaderboard_u1.csv',), cmd=['collab-nb-compare', '--out', '{dir}/leaderboard_u1.csv'],
                        about="collab-nb-compare's default board on ML-100k u1 (lesson 5, the README's RMSE table)"),
    'ranking': dict(writes=('ranking_u1.csv',), cmd=['collab-nb-compare', '--task', 'ranking', '--out', '{dir}/ranking_u1.csv'],
                    about="lesson 8's rankers on u1 (the README's ranking table)"),
    'ranking_protocol': dict(writes=('ranking_recommenders.csv',), notebook='08_ranking', flags='slow',
                             about="lesson 8's rankers on microsoft/recommenders' protocol (a per-user 25% held out)"),
    'scale': dict(writes=('scale_bench.csv',), cmd=['collab-nb-bench', '--sizes', '1e6,5e6,25e6', '--seeds', '0', '--out', '{dir}/scale_bench.csv'],
                  about="25M synthetic ratings to DataLoaders and an epoch, sparse and dense (lesson 10)"),
    'hybrid_folds': dict(writes=('hybrid_folds.csv',), notebook='07_best_recipe', flags='slow',
                         about="lesson 7's hybrid beside SVD++ on the five folds"),
    'top': dict(writes=('top_u1.csv', 'top_choices.csv', 'top_grid.csv'), notebook='09_top', flags='slow',
                about="lesson 9's best recipe beside myFM on u1, strict and transductive; what averaging buys and costs, and its learning rate and weight decay, chosen again on a fifth of u1.base"),
    'top_folds': dict(writes=('top_folds.csv',), notebook='09_top', flags='folds',
                      about="lesson 9's recipe, its parts and myFM on the five folds and ml-latest-small"),
    'files': dict(writes=('files_bench.json',), notebook='83_files', flags='slow',
                  about="a million synthetic ratings with text ids through collab-nb-train --ratings --save and collab-nb-recommend --users all"),
    'next': dict(writes=('next_bench.csv',), notebook='11_next', flags='slow',
                 about="lesson 11's next-movie models on ML-100k and ml-latest-small, leave-one-out by time: the baselines, SASRec with the lesson's and heavier settings, and RecBole's SASRec (pip install -e '.[peers]')"),
    'spark': dict(writes=('als_u1.csv', 'scale_als.csv'), notebook='10_scale', flags='slow',
                  about="lesson 10's ALS settings chosen on a fifth of u1.base, and Spark's ALS beside the course's model at 5M ratings"),
}

def write_record(path, rec, machine):
    "A JSON record, with its stamp inside too (the course home reads the date and machine there)"
    Path(path).write_text(json.dumps(dict(measured=datetime.date.today().isoformat(), machine=machine, **rec), indent=1) + '\n')

def fail(msg): sys.exit(f'benchmark: error: {msg}')

def commit() -> str:
    "The commit measured: HEAD's short hash, with '+changes' when the working tree differs from it"
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no', '--', 'collab_nb', 'nbs/*.ipynb'],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError): return 'unknown (not a git checkout)'
    return head + ('+changes' if dirty else '')

def run_measured(cmd, env, log):
    "Run `cmd`, its output to `log`; its wall seconds and peak resident memory (MB, the largest of it and the processes it waited for)"
    t0 = time.perf_counter()
    with open(log, 'w') as f:
        p = subprocess.Popen(cmd, cwd=root, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
    secs, code = time.perf_counter() - t0, os.waitstatus_to_exitcode(status)
    if code:   # the scratch folder goes with the failure: its log is kept beside it, for reading
        kept = Path(tempfile.mkdtemp(prefix='collab_nb_bench_log_'))/Path(log).name
        shutil.copyfile(log, kept)
        fail(f"{' '.join(cmd)} exited with {code}; its whole output is in {kept}; the end of it:\n" + ''.join(kept.read_text().splitlines(True)[-15:]))
    return secs, usage.ru_maxrss / 1024

def notebooks():
    return sorted(p for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))

def bench_timings(out_dir, env, logs):
    "Each notebook alone: seconds (as nbdev-test --timing prints them) and peak memory. The course home (index) runs last, reading this run's record of every other notebook"
    secs, peak = {}, {}
    first_suite(out_dir)
    order = sorted(notebooks(), key=lambda p: p.stem == 'index')
    for nb in order:
        if nb.stem == 'index': write_record(Path(out_dir)/'timings.json', write_timings(out_dir, secs, peak)['timings.json'], env['COLLAB_NB_MACHINE'])   # what the course home reads: this run's times, not the last record's
        s, mb = run_measured(['nbdev-test', str(nb), '--timing'], env, logs/f'{nb.stem}.log')
        m = re.search(rf'^{re.escape(nb.stem)}\.ipynb: (\d+) secs$', Path(logs/f'{nb.stem}.log').read_text(), flags=re.M)
        secs[nb.stem], peak[nb.stem] = int(m[1]) if m else round(s), round(mb)
        print(f'  {nb.stem}: {secs[nb.stem]} s, {peak[nb.stem]:,} MB', flush=True)
    return write_timings(out_dir, secs, peak)

def write_timings(out_dir, secs, peak):
    rec = dict(command='nbdev-test nbs/NOTEBOOK.ipynb --timing, each notebook in its own process', seconds=dict(sorted(secs.items())), peak_MB=dict(sorted(peak.items())))
    return {'timings.json': rec}

def first_suite(out_dir):
    "The course home reads suite.json; before the suite was ever measured, it reads a placeholder in the scratch folder (never in nbs/)"
    if not (nbs/'suite.json').exists():
        (Path(out_dir)/'suite.json').write_text(json.dumps(dict(command='not measured yet', seconds=0, peak_MB=0, measured='never', machine='none')))

def bench_suite(out_dir, env, logs):
    "The README's test command: its seconds and peak memory. The course home reads this record; the first time there is none, it reads a placeholder in the scratch folder (never in nbs/)"
    first_suite(out_dir)
    s, mb = run_measured(['nbdev-test', '--n-workers', '2', '--timing'], env, logs/'suite.log')
    return {'suite.json': dict(command='nbdev-test --n-workers 2 --timing', seconds=round(s), peak_MB=round(mb))}

def du(path) -> int:
    "Bytes of the files under `path` (links not followed)"
    return sum(f.lstat().st_size for f in Path(path).rglob('*') if f.is_file() and not f.is_symlink())

def bench_install(out_dir, env, logs):
    "The README's install in a fresh venv: the CPU torch first, then the package with its dev extra; the venv's size, torch's share, and the data's"
    venv = Path(out_dir)/'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    pip = [str(venv/'bin'/'python'), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
    torch_index = os.environ.get('COLLAB_NB_TORCH_INDEX')
    run_measured(pip + ['torch==2.13.0', 'torchvision==0.28.0'] + (['--index-url', torch_index] if torch_index else []), env, logs/'torch.log')
    run_measured(pip + ['-e', f'{root}[dev]'], env, logs/'dev.log')
    site = next((venv/'lib').glob('python*/site-packages'))
    data = subprocess.run([sys.executable, '-c', 'from collab_nb.data import dataset_path; print(dataset_path("ml-100k").parent)'],
                          capture_output=True, text=True, check=True).stdout.strip()
    return {'install.json': dict(command='pip install torch==2.13.0 torchvision==0.28.0, then pip install -e ".[dev]", in a fresh venv',
                                 venv_GB=round(du(venv) / 2**30, 2), torch_GB=round(sum(du(p) for p in site.glob('torch*')) / 2**30, 2),
                                 data_MB=round(sum(du(Path(data)/d) for d in ('ml-100k', 'ml-latest-small')) / 2**20, 1))}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', help=f'benchmarks to run (default: all): {", ".join(BENCHMARKS)}')
    ap.add_argument('--machine', help='where it runs, as the records will say: e.g. "2-core CPU, no GPU, idle"')
    ap.add_argument('--list', action='store_true', help='list the benchmarks, their records and how long each took last')
    a = ap.parse_args()
    meta = json.loads(META.read_text()) if META.is_file() else {}
    if a.list:
        for k, b in BENCHMARKS.items():
            last = [meta.get(w, {}).get('seconds') for w in b['writes']]
            print(f"{k:13} {', '.join(b['writes']):32} {b['about']}" + (f' (last: {last[0]:.0f} s)' if last[0] else ''))
        return
    names = a.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown: fail(f'unknown benchmark(s) {unknown}: choose from {list(BENCHMARKS)}')
    if not a.machine or not a.machine.strip(): fail('--machine is required: say where this runs (cores, GPU, idle or busy), as the records will')
    for n in names:   # before any work: every record it will replace is a plain file (or absent), in a folder we may write
        for w in BENCHMARKS[n]['writes']:
            t = nbs/w
            if t.is_symlink() or (t.exists() and not t.is_file()): fail(f'{t} is not a plain file: the benchmark will not write through it')
    if not os.access(nbs, os.W_OK): fail(f'{nbs} is not writable')
    at = commit()
    jobs = {}   # benchmarks of one notebook run together, in one run of it with all their flags: its later cells read what its earlier ones wrote
    for n in names:
        b = BENCHMARKS[n]
        key = b.get('notebook') or n
        if key in jobs:
            j = jobs.pop(key)
            b = dict(b, writes=j['writes'] + b['writes'], flags=f"{j['flags']} {b['flags']}", about=f"{j['about']}; {b['about']}", names=j['names'] + [n])
        jobs[key] = dict(b, names=b.get('names', [n]))
    for b in jobs.values():
        n = ' '.join(b['names'])
        print(f'== {n}: {b["about"]}', flush=True)
        with tempfile.TemporaryDirectory(prefix=f"collab_nb_bench_{n.replace(' ', '+')}_") as d:
            d, logs = Path(d), Path(d)/'logs'
            logs.mkdir()
            env = {**os.environ, 'COLLAB_NB_RECORDS': str(d), 'COLLAB_NB_MACHINE': a.machine}
            t0, extra = time.perf_counter(), {}
            if b.get('kind') == 'timings': extra = bench_timings(d, env, logs); cmd = 'nbdev-test nbs/NOTEBOOK.ipynb --timing (each notebook)'
            elif b.get('kind') == 'suite': extra = bench_suite(d, env, logs); cmd = 'nbdev-test --n-workers 2 --timing'
            elif b.get('kind') == 'install': extra = bench_install(d, env, logs); cmd = 'a fresh venv, the README\'s install'
            elif 'cmd' in b:
                argv = [s.format(dir=d) for s in b['cmd']]
                run_measured(argv, env, logs/f"{b['names'][0]}.log")
                cmd = ' '.join(s.replace('{dir}', 'nbs') for s in b['cmd'])
            else:
                argv = ['nbdev-test', str(nbs/f"{b['notebook']}.ipynb"), '--flags', b['flags'], '--cell-timeout', '0', '--cell-timing-min', '5']
                run_measured(argv, env, logs/f"{b['notebook']}.log")
                cmd = f"nbdev-test nbs/{b['notebook']}.ipynb --flags {b['flags']!r}"
            secs = time.perf_counter() - t0
            for name, rec in extra.items(): write_record(d/name, rec, a.machine)
            missing = [w for w in b['writes'] if not (d/w).is_file()]
            if missing: fail(f'{n} ran but did not write {missing}: nothing in nbs/ was replaced')
            stamp = dict(measured=datetime.date.today().isoformat(), machine=a.machine, command=f'python tools/benchmark.py {n}  ({cmd})',
                         commit=at, seconds=round(secs))
            meta = json.loads(META.read_text()) if META.is_file() else {}   # read again: another benchmark may have written since
            for w in b['writes']:
                tmp = nbs/f'.{w}.new'
                shutil.copyfile(d/w, tmp); os.replace(tmp, nbs/w)
                meta[w] = stamp
            tmp = nbs/f'.{META.name}.new'
            tmp.write_text(json.dumps(dict(sorted(meta.items())), indent=1) + '\n'); os.replace(tmp, META)
        print(f'   wrote {", ".join(b["writes"])} in {secs:.0f} s', flush=True)

if __name__ == '__main__': main()
