#!/usr/bin/env python
"""Write nbs/timings.json, the one record of how long each notebook takes, from the output of `nbdev-test --timing`.
The course home, the README and the instructor guide read their run times from it, so they never disagree.

    nbdev-test --n-workers 1 --timing 2>&1 | tee test.log
    python tools/record_timings.py test.log --machine "2-core CPU, no GPU, idle"
"""
import json, re, sys, argparse, datetime
from pathlib import Path

root = Path(__file__).resolve().parent.parent
out = root/'nbs'/'timings.json'

def parse(log_text):
    "Seconds per notebook (by stem) from `nbdev-test --timing` output"
    return {m[1]: int(m[2]) for m in re.finditer(r'^(\S+)\.ipynb: (\d+) secs$', log_text, flags=re.M)}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('log', help='a file holding the output of nbdev-test --timing')
    p.add_argument('--machine', required=True, help='where it ran, e.g. "2-core CPU, no GPU, idle"')
    a = p.parse_args()
    secs = parse(Path(a.log).read_text())
    lessons = sorted(f.stem for f in (root/'nbs').glob('*.ipynb') if re.match(r'[0-7]\d[a-z]?_', f.name))
    missing = [l for l in lessons if l not in secs]
    if missing: sys.exit(f'record_timings: the log has no time for {missing}: run nbdev-test --timing on every notebook')
    rec = dict(measured=datetime.date.today().isoformat(), command='nbdev-test --n-workers 1 --timing',
               machine=a.machine, seconds=dict(sorted(secs.items())))
    out.write_text(json.dumps(rec, indent=1) + '\n')
    print(f'wrote {out}: {len(secs)} notebooks, lessons {sum(secs[l] for l in lessons)} s in all')
