#!/usr/bin/env python3
"""Tabulates a class's checker results: one row per student, one column per exercise.

Each student saves the `--json` of each check into a folder of their own, one file per exercise,
and hands the folder in (or the teacher collects them), for example:

    mkdir -p results/alice
    01-echo-once check --json client -- python3 client.py {port} > results/alice/01.json
    09-sticky check --json server 127.0.0.1:9009 > results/alice/09-server.json

Then:

    python3 scripts/tabulate-results.py results            # a text table
    python3 scripts/tabulate-results.py --csv results > class.csv

A cell is `pass`, `fail 3/4` (points passed of all) or `error` (nothing listened). A file that is
not a checker's JSON is reported on stderr and skipped. The JSON follows exercism's test-runner
contract (`status`, `tests` with `name`/`status`/`message`/`output`), with socklab's `lesson`,
`side`, `seed`, `passed` and `failed` beside it.
"""
import csv
import json
import os
import sys


def cell(report):
    status = report.get('status')
    if status == 'pass':
        return 'pass'
    if status == 'error':
        return 'error'
    passed, failed = report.get('passed', 0), report.get('failed', 0)
    return 'fail %d/%d' % (passed, passed + failed)


def main(argv):
    as_csv = '--csv' in argv
    folders = [a for a in argv if a != '--csv']
    if len(folders) != 1:
        sys.exit('usage: tabulate-results.py [--csv] RESULTS_FOLDER (one sub-folder per student)')
    root = folders[0]
    table = {}
    exercises = set()
    for student in sorted(os.listdir(root)):
        folder = os.path.join(root, student)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            try:
                with open(path, encoding='utf-8') as f:
                    report = json.load(f)
                exercise = '%s %s' % (report['lesson'], report['side'])
            except (OSError, ValueError, KeyError, TypeError) as e:
                print('skipped %s: %s' % (path, e), file=sys.stderr)
                continue
            exercises.add(exercise)
            table.setdefault(student, {})[exercise] = cell(report)
    columns = sorted(exercises)
    rows = [[student] + [table[student].get(c, '-') for c in columns] for student in sorted(table)]
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(['student'] + columns)
        writer.writerows(rows)
        return
    header = ['student'] + columns
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print('  '.join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


if __name__ == '__main__':
    main(sys.argv[1:])
