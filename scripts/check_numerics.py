"""Run the numerical tests (the authors' golden steps, the float64 transcription, the reference forward
passes) under other CPU kernels and thread counts, and print the worst margin of every comparison.

    python scripts/check_numerics.py            # one setting per line below, each value of each variable
    python scripts/check_numerics.py --all      # every combination (12 runs)

PyTorch picks its CPU kernels at run time: ATEN_CPU_CAPABILITY caps ATen's (default, avx2, avx512),
ONEDNN_MAX_CPU_ISA caps oneDNN's convolutions (AVX2, AVX512_CORE), and OMP_NUM_THREADS changes how sums
are split; each gives other float32 summation orders on one machine. A margin is value / limit of one
comparison (tests/numerics.py records them): under 1 passes; the table shows the largest per quantity.
"""
import itertools
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from util.errors import Parser, run_cli  # noqa: E402

TESTS = ['tests/test_golden.py', 'tests/test_faithful.py', 'tests/test_unsup.py', 'tests/test_networks.py']
VARIABLES = {'ATEN_CPU_CAPABILITY': ['default', 'avx2', 'avx512'], 'ONEDNN_MAX_CPU_ISA': ['AVX2', 'AVX512_CORE'],
             'OMP_NUM_THREADS': ['1', '2']}
# each value of each variable at least once, in 4 runs
COVERING = [('default', 'AVX2', '1'), ('avx2', 'AVX2', '2'), ('avx512', 'AVX512_CORE', '1'),
            ('default', 'AVX512_CORE', '2')]


def run(setting, pytest_args):
    """(pytest's exit status, its summary line, [margins]) under the environment `setting`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'margins.json')
        env = {**os.environ, **setting, 'RECYCLEGAN_MARGINS': path}
        tests = [t for t in TESTS if os.path.exists(os.path.join(ROOT, t))]
        result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *tests, *pytest_args],
                                cwd=ROOT, env=env, capture_output=True, text=True)
        summary = (result.stdout.strip().splitlines() or [''])[-1]
        margins = json.load(open(path)) if os.path.exists(path) else []
    return result.returncode, summary, margins


def worst(margins):
    """{quantity: (largest value / limit, the test it came from)}."""
    table = {}
    for m in margins:
        ratio = m['value'] / m['limit']
        if ratio >= table.get(m['quantity'], (-1, ''))[0]:
            table[m['quantity']] = (ratio, m['test'])
    return table


def main(argv=None):
    parser = Parser(__file__, description=__doc__)
    parser.add_argument('--all', action='store_true', help='every combination of the variables')
    args, pytest_args = parser.parse_known_args(argv)
    combos = list(itertools.product(*VARIABLES.values())) if args.all else COVERING
    failed, overall = False, {}
    for combo in [None, *combos]:
        setting = dict(zip(VARIABLES, combo)) if combo else {}
        code, summary, margins = run(setting, pytest_args)
        failed |= code != 0
        label = ' '.join(f'{k}={v}' for k, v in setting.items()) or '(this machine\'s defaults)'
        print(f'{label}: {summary}', flush=True)
        for quantity, (ratio, test) in sorted(worst(margins).items()):
            print(f'    {ratio:9.3g}  {quantity} ({test})')
            if ratio >= overall.get(quantity, (-1,))[0]:
                overall[quantity] = (ratio, test, label)
    print('\nworst margin of each comparison over all settings (value / limit):')
    for quantity, (ratio, test, label) in sorted(overall.items()):
        print(f'    {ratio:9.3g}  {quantity} ({test}; {label})')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
