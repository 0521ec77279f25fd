"""retarget.py end to end on tiny synthetic videos (32 px, ngf 8): the output has the input's frame
count and rate, the plan fills the budget, an interrupted run resumes, a finished one only
re-translates, changed inputs or flags are noticed, and bad input is one line with exit status 2."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import retarget as retarget_cli
from data import retarget_inputs as inputs
from conftest import ROOT, run_script
from scripts.make_demo_data import make_clip
from util import budget
from util.errors import UserError, run_cli
from util.video import video_info, write_video

FPS_A = 15  # not the 30 frames/s a folder of frames gets, so a video's own rate must carry through
TINY_NETS = ['--ngf', '8', '--ndf', '8', '--display_id', '0', '--nThreads', '0', '--amp', 'off']


def make_inputs(folder):
    """A: an mp4 of 9 frames of 48 x 32 at FPS_A; B: a folder of 7 PNG frames of 32 x 32."""
    rng = np.random.default_rng(0)
    a = os.path.join(folder, 'walk_day.mp4')
    write_video(a, [frame[8:40] for frame in make_clip(rng, 'A', 9, 48)], FPS_A)  # 48 wide, 32 high
    b = os.path.join(folder, 'walk_night')
    os.makedirs(b)
    for t, frame in enumerate(make_clip(rng, 'B', 7, 32)):
        Image.fromarray(frame).save(os.path.join(b, f'{t}.png'))
    return a, b


def retarget_argv(tmp, a, b, *args):
    return [a, b, '--checkpoints_dir', os.path.join(tmp, 'ck'), '--results_dir', os.path.join(tmp, 'res'),
            *TINY_NETS, *args]


def run(tmp, a, b, *args, check=True):
    return run_script('retarget.py', *retarget_argv(tmp, a, b, *args), check=check)


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    return lines[0]


def error_here(capsys, tmp, a, b, *args):
    """retarget.py's one-line error for these arguments, run in this process (no second torch import)."""
    with pytest.raises(SystemExit) as stop:
        run_cli(retarget_cli.main, retarget_argv(tmp, a, b, *args))
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), lines
    return lines[0]


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """A finished run with --both: 12 iterations in 2 epochs."""
    tmp = str(tmp_path_factory.mktemp('retarget'))
    a, b = make_inputs(tmp)
    result = run(tmp, a, b, '--iterations', '12', '--epochs', '2', '--both')
    return tmp, a, b, result


def test_outputs_keep_the_inputs_frame_count_and_rate(finished):
    tmp, a, b, result = finished
    name = 'walk_day_to_night'  # the shared leading word is said once
    results = os.path.join(tmp, 'res', name)
    forward = video_info(os.path.join(results, 'walk_day_as_night.mp4'))
    assert (forward.frames, forward.fps) == (9, FPS_A)
    assert (forward.width, forward.height) == (48, 32)  # whole frames, at the training scale, not square crops
    side = video_info(os.path.join(results, 'walk_day_as_night_side_by_side.mp4'))
    assert (side.frames, side.width, side.height) == (9, 96, 32)
    backward = video_info(os.path.join(results, 'walk_night_as_day.mp4'))  # --both; a frame folder: 30 frames/s
    assert (backward.frames, backward.fps) == (7, 30)
    page = open(os.path.join(results, 'index.html')).read()
    assert 'src="walk_day_as_night.mp4"' in page and 'src="walk_night_as_day.mp4"' in page

    record = json.load(open(os.path.join(tmp, 'ck', name, 'retarget.json')))
    plan = record['plan']
    assert record['trained'] and plan['iterations'] == 12 and (plan['niter'], plan['niter_decay']) == (1, 1)
    argv = record['train_argv']
    for flag, value in (('--which_model_netG', 'resnet_6blocks'), ('--which_model_netP', 'unet_32'),
                        ('--pool_size', '0'), ('--fineSize', '32'), ('--loadSize', '48'), ('--epoch_size', '6')):
        assert argv[argv.index(flag) + 1] == value, flag  # the authors' settings, the size from the inputs
    assert '--no_dropout' in argv
    assert 'plan: 12 iterations of 32 px' in result.stdout
    assert os.path.exists(os.path.join(tmp, 'ck', name, 'web', 'index.html'))  # train.py's page
    assert os.path.exists(os.path.join(tmp, 'ck', name, '2_net_G_A.pth'))  # both epochs ran


def test_a_rerun_only_translates(finished):
    tmp, a, b, _ = finished
    folder = os.path.join(tmp, 'ck', 'walk_day_to_night')
    weights = os.path.join(folder, 'latest_net_G_A.pth')
    video = os.path.join(tmp, 'res', 'walk_day_to_night', 'walk_day_as_night.mp4')
    before = os.stat(weights).st_mtime_ns, os.stat(video).st_mtime_ns
    result = run(tmp, a, b, '--iterations', '12', '--epochs', '2')
    assert 'is trained: translating only' in result.stdout
    assert os.stat(weights).st_mtime_ns == before[0]  # no training
    assert os.stat(video).st_mtime_ns > before[1]  # translated again
    assert video_info(video).frames == 9


def test_a_changed_flag_is_noticed(finished, capsys):
    tmp, a, b, _ = finished
    line = error_here(capsys, tmp, a, b, '--iterations', '13', '--epochs', '2')
    assert '--iterations was 12, now 13' in line and '--restart' in line
    line = error_here(capsys, tmp, a, b, '--iterations', '12', '--epochs', '2', '--lr', '0.001')
    assert 'train.py flags' in line and '--lr 0.001' in line


def test_resume_after_a_kill_then_a_changed_input_is_noticed(tmp_path):
    tmp = str(tmp_path)
    a, b = make_inputs(tmp)
    argv = retarget_argv(tmp, a, b, '--iterations', '40', '--epochs', '4', '--name', 'run')
    state = os.path.join(tmp, 'ck', 'run', 'latest_train_state.pth')
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'retarget.py'), *argv], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not os.path.exists(state) and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)  # no chance to save anything more
    finally:
        output, errors = process.communicate()
    assert process.returncode == -signal.SIGKILL, errors  # killed, not finished before it
    record = json.load(open(os.path.join(tmp, 'ck', 'run', 'retarget.json')))
    assert not record['trained']

    result = run(tmp, a, b, '--iterations', '40', '--epochs', '4', '--name', 'run')
    resumed_at = int(result.stdout.split('resuming at epoch ')[1].split()[0])
    assert resumed_at in (2, 3, 4)  # after an epoch's end, where the killed run saved
    assert 'resuming from' in open(os.path.join(tmp, 'ck', 'run', 'retarget_log.txt')).read()  # train.py's word
    assert video_info(os.path.join(tmp, 'res', 'run', 'walk_day_as_night.mp4')).frames == 9
    assert os.path.exists(os.path.join(tmp, 'ck', 'run', '4_net_G_A.pth'))

    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(os.path.join(b, '3.png'))  # one frame of B replaced
    line = one_error_line(run(tmp, a, b, '--iterations', '40', '--epochs', '4', '--name', 'run', check=False))
    assert f'the second input {os.path.abspath(b)} changed' in line


def test_a_short_budget_plan_fills_it(tmp_path):
    tmp = str(tmp_path)
    a, b = make_inputs(tmp)
    result = run(tmp, a, b, '--minutes', '2', '--plan_only', '--name', 'plan')
    record = json.load(open(os.path.join(tmp, 'ck', 'plan', 'retarget.json')))
    plan = record['plan']
    # the plan keeps to the budget; below it by less than the remainder of dividing the iterations into
    # epochs (< epochs steps) and one step's rounding, plus a save if the number of epochs moved
    save_s = (plan['train_s'] - plan['iterations'] * plan['step_s']) / (plan['epochs'] + 1)
    assert plan['train_s'] + plan['other_s'] <= 120
    assert plan['train_s'] + plan['other_s'] >= 120 - (plan['epochs'] + 1) * plan['step_s'] - save_s
    assert plan['iterations'] == plan['epochs'] * plan['epoch_size'] >= budget.MIN_ITERATIONS
    assert plan['niter'] + plan['niter_decay'] == plan['epochs'] and plan['niter_decay'] >= 1
    # train.py's epochs are the Deadline's: it counts the iterations of each to know when one ends
    argv = record['train_argv']
    assert int(argv[argv.index('--epoch_size') + 1]) == budget.Plan(**plan).cap > plan['epoch_size']
    assert f'plan: {plan["iterations"]:,} iterations of 32 px' in result.stdout
    assert 'about 2.0 min' in result.stdout or 'about 1.9 min' in result.stdout
    assert not os.path.exists(os.path.join(tmp, 'res', 'plan'))  # --plan_only: nothing trained or translated


TIMINGS = [budget.Timing(step_s=3.4, save_s=4.5, setup_s=5.0, frame_s=0.02),  # this CPU, 64 px, ngf 64
           budget.Timing(step_s=0.08, save_s=2.0, setup_s=8.0, frame_s=0.004),  # a GPU-like step
           budget.Timing(step_s=0.05, save_s=0.02, setup_s=1.0, frame_s=0.001)]  # the tests' nets


@pytest.mark.parametrize('timing', TIMINGS)
@pytest.mark.parametrize('minutes', [10, 60])
def test_plan_keeps_to_the_budget(timing, minutes):
    budget_s = minutes * 60
    plan = budget.make_plan(timing, spent_s=25.0, translate_s=300 * timing.frame_s, budget_s=budget_s)
    assert plan.total_s <= budget_s
    assert plan.total_s >= 0.98 * budget_s  # "within a few percent"
    assert plan.iterations == plan.epochs * plan.epoch_size
    assert 2 <= plan.epochs <= 200 and plan.niter + plan.niter_decay == plan.epochs
    # the saves at the epochs' ends are paid for, and are at most a few minutes apart
    assert plan.train_s == pytest.approx(plan.iterations * timing.step_s + (plan.epochs + 1) * timing.save_s)
    assert plan.epoch_size * timing.step_s <= budget.EPOCH_MIN_S * 1.25


def train_under_deadline(monkeypatch, plan, slowdown, later_s=0.0):
    """train.py's loop under a Deadline on a simulated clock, `slowdown` times slower than timed: (the
    iterations of each epoch, the time training ended, the end the Deadline was given)."""
    clock = [0.0]
    monkeypatch.setattr(budget.time, 'perf_counter', lambda: clock[0])
    end = plan.setup_s + plan.train_s
    deadline = budget.Deadline(end, plan.epochs, 0, plan.cap, plan, on_step=lambda: None, later_s=later_s)
    clock[0] += plan.setup_s
    iterations = []
    for _ in range(plan.epochs):
        n = 0
        while n < plan.cap:  # train.py's epoch: up to cap iterations, or until on_step says the epoch is over
            clock[0] += plan.step_s * slowdown
            n += 1
            if deadline():
                break
        iterations.append(n)
        clock[0] += plan.save_s
    clock[0] += plan.save_s  # the last epoch's numbered weights
    return iterations, clock[0], end


@pytest.mark.parametrize('slowdown', [0.5, 1.0, 2.5])
def test_the_deadline_ends_the_epochs_on_time(monkeypatch, slowdown):
    """Training on a machine `slowdown` times slower than timed: every epoch runs (the learning-rate
    schedule completes) and training ends on time, not slowdown times later."""
    plan = budget.make_plan(TIMINGS[0], spent_s=25.0, translate_s=300 * TIMINGS[0].frame_s, budget_s=1800)
    iterations, ended, end = train_under_deadline(monkeypatch, plan, slowdown)
    if slowdown <= 1:  # on time or early: each epoch its planned iterations, or the cap when faster
        assert iterations == [min(plan.cap, round(plan.epoch_size / slowdown))] * plan.epochs
    else:  # late: the epochs shrink alike, and training still ends by the deadline (to within a step)
        assert max(iterations) - min(iterations) <= 1
        assert end - plan.step_s * slowdown <= ended <= end + plan.step_s * slowdown


@pytest.mark.parametrize('slowdown', [0.8, 2.0, 3.0])
def test_the_deadline_leaves_a_slower_translation_its_time(monkeypatch, slowdown):
    """Translating after training (later_s as planned) is as much slower as training was: the job as a whole
    still ends on time, training giving up what translating will take longer."""
    plan = budget.make_plan(TIMINGS[0], spent_s=25.0, translate_s=300 * TIMINGS[0].frame_s, budget_s=1800)
    later_s = 120.0
    _, ended, end = train_under_deadline(monkeypatch, plan, slowdown, later_s)
    job_end = ended + later_s * slowdown
    assert abs(job_end - (end + later_s)) <= 2 * plan.step_s * slowdown
    if slowdown > 1:  # blind to it, the job would overrun by what translating takes longer
        _, ended, _ = train_under_deadline(monkeypatch, plan, slowdown)
        assert ended + later_s * slowdown - (end + later_s) > 0.9 * later_s * (slowdown - 1)


def test_a_budget_too_small_says_the_smallest_that_works():
    timing = TIMINGS[0]
    with pytest.raises(UserError, match=r'needs --minutes [\d.]+$') as error:
        budget.make_plan(timing, spent_s=25.0, translate_s=300 * timing.frame_s, budget_s=120)
    smallest = float(str(error.value).rsplit(' ', 1)[1])
    plan = budget.make_plan(timing, spent_s=25.0, translate_s=300 * timing.frame_s, budget_s=smallest * 60)
    assert plan.iterations >= budget.MIN_ITERATIONS  # the minimum it names is enough


def test_plan_of_a_fixed_number_of_iterations():
    plan = budget.make_plan(TIMINGS[0], spent_s=25.0, translate_s=300 * TIMINGS[0].frame_s, iterations=1000)
    assert plan.iterations == 1000 == plan.epochs * plan.epoch_size  # an epoch count that divides it
    plan = budget.make_plan(TIMINGS[0], spent_s=25.0, translate_s=300 * TIMINGS[0].frame_s, iterations=997, epochs=7)
    assert (plan.epochs, plan.epoch_size, plan.iterations) == (7, 142, 994)  # never more than asked


def test_frame_size_follows_the_device_and_never_upscales():
    def side(*sizes):
        return inputs.Side('x', [], list(sizes))
    assert inputs.largest_size([side((1920, 1080)), side((1280, 720))], 256) == 256
    assert inputs.largest_size([side((1920, 1080)), side((1280, 720))], 64) == 64
    assert inputs.largest_size([side((200, 150)), side((640, 480))], 256) == 128  # not above 150
    with pytest.raises(UserError, match='frames of x are 100x100; retarget does not upscale'):
        inputs.largest_size([side((100, 100)), side((640, 480))], 256, requested=128)
    with pytest.raises(UserError, match='are 24x24.*at least 32 px'):
        inputs.largest_size([side((24, 24)), side((640, 480))], 64)
    # 16:9 at 64 px: every clip's height reaches 64 at the load width; translated at multiples of 4
    assert inputs.load_size([side((1920, 1080))], 64) == 114
    assert inputs.translation_size((1920, 1080), 114) == (112, 64)  # 114 x 64.1, to the nearest multiples of 4
    assert inputs.output_size((1919, 1081)) == (1918, 1080)  # the input's own size, even for H.264


def test_names_from_the_inputs():
    assert inputs.short_name('speaker_b', 'speaker_a') == 'b'
    assert inputs.short_name('clip_dusk', 'clip_day') == 'dusk'  # cut at a separator, not inside a word
    assert inputs.short_name('night', 'day') == 'night'
    assert inputs.short_name('take', 'take') == 'take'


@pytest.mark.parametrize('case', ['missing', 'unreadable', 'own flag', 'unknown flag', 'no budget'])
def test_bad_input_is_one_line(tmp_path, capsys, case):
    tmp = str(tmp_path)
    a, b = make_inputs(tmp)
    args = ['--iterations', '5']
    if case == 'missing':
        a = os.path.join(tmp, 'nothere.mp4')
    elif case == 'unreadable':
        a = os.path.join(tmp, 'broken.mp4')
        with open(a, 'wb') as f:
            f.write(b'\x00not a video' * 100)
    elif case == 'own flag':
        args += ['--niter', '3']
    elif case == 'unknown flag':
        args += ['--bogus', '3']
    else:
        args = []
    line = error_here(capsys, tmp, a, b, *args)
    expected = {'missing': 'nothere.mp4 does not exist', 'unreadable': 'broken.mp4: cannot be decoded',
                'own flag': '--niter is set by retarget.py', 'unknown flag': 'unrecognized arguments: --bogus',
                'no budget': 'one of the arguments --minutes --iterations is required'}[case]
    assert expected in line


def test_a_budget_too_small_here_is_one_line(tmp_path, capsys):
    tmp = str(tmp_path)
    a, b = make_inputs(tmp)
    line = error_here(capsys, tmp, a, b, '--minutes', '0.05')
    assert 'too short for even 50 iterations here' in line and 'needs --minutes' in line


# -- the planner: which network a budget buys (step times injected, nothing timed) -------------------------------
def fake_timing(steps_s, calls):
    """A stand-in for retarget.time_training: the step time of each width from steps_s, every call recorded."""
    def time_training(argv, frame_size, tick, too_slow=lambda n, s: False):
        width = int(argv[argv.index('--ngf') + 1])
        amp = argv[argv.index('--amp') + 1] if '--amp' in argv else None
        calls.append((width, amp))
        step_s = steps_s[width] * (3 if amp else 1)  # mixed precision 3x slower, as on a CPU without bf16
        steps = [step_s] * 4
        for n in range(1, 5):
            if too_slow(n, sum(steps[:n])):
                return None, steps[:n]
        return budget.Timing(step_s=step_s, save_s=0.0, setup_s=0.0, frame_s=0.0), steps
    return time_training


def plan_here(monkeypatch, tmp, steps_s, *args):
    a, b = make_inputs(tmp)
    calls = []
    monkeypatch.setattr(retarget_cli, 'time_training', fake_timing(steps_s, calls))
    argv = [a, b, '--checkpoints_dir', os.path.join(tmp, 'ck'), '--results_dir', os.path.join(tmp, 'res'),
            '--display_id', '0', '--nThreads', '0', '--plan_only', '--name', 'p', *args]
    run_cli(retarget_cli.main, argv)
    return json.load(open(os.path.join(tmp, 'ck', 'p', 'retarget.json'))), calls


THRESHOLDS = {8: 50, 16: 1000, 32: 4000, 64: 16000}


def threshold(width):
    return THRESHOLDS[width]


@pytest.fixture
def candidates(monkeypatch):
    monkeypatch.setattr(budget, 'CANDIDATES', tuple(budget.Candidate(64, w, t) for w, t in THRESHOLDS.items()))


def test_the_planner_buys_the_widest_network_that_reaches_its_threshold(tmp_path, monkeypatch, candidates):
    # 16 filters: 1.5 times its threshold in a 10-minute budget; even at 16's speed 32 filters would buy less than
    # its threshold: it is not timed
    step16 = 580 / (1.5 * threshold(16))
    record, calls = plan_here(monkeypatch, str(tmp_path), {8: step16 / 4, 16: step16, 32: 4 * step16, 64: 1},
                              '--minutes', '10', '--amp', 'off')
    # the inputs' 32 px short side caps the size
    assert record['network'] == {'size': 32, 'width': 16, 'model': 'recycle_gan'}
    argv = record['train_argv']
    assert [argv[argv.index(f) + 1] for f in ('--ngf', '--ndf', '--npf')] == ['16'] * 3
    assert calls == [(8, None), (16, None)]
    assert threshold(16) <= record['plan']['iterations'] <= 600 / step16  # what the budget buys at that speed


def test_a_width_slower_than_its_guess_is_not_taken(tmp_path, monkeypatch, candidates):
    step16 = 580 / (1.5 * threshold(16))
    record, calls = plan_here(monkeypatch, str(tmp_path), {8: step16 / 4, 16: 4 * step16, 32: 1, 64: 1},
                              '--minutes', '10', '--amp', 'off')
    assert record['network']['width'] == 8 and calls == [(8, None), (16, None)]


def test_the_users_width_wins(tmp_path, monkeypatch, candidates):
    record, calls = plan_here(monkeypatch, str(tmp_path), {64: 0.01}, '--minutes', '10', '--amp', 'off',
                              '--ngf', '64')
    assert record['network']['width'] is None and calls == [(64, None)]  # the planner sets no width flag
    argv = record['train_argv']
    assert argv[argv.index('--ngf') + 1] == '64' and '--npf' not in argv


def test_a_slower_precision_stops_after_its_first_step(tmp_path, monkeypatch):
    monkeypatch.setattr(retarget_cli, 'cpu_has_bf16', lambda: True)
    stopped = []
    fake = fake_timing({8: 0.01, 16: 10, 32: 10, 64: 10}, [])

    def time_training(argv, frame_size, tick, too_slow=lambda n, s: False):
        timing, steps = fake(argv, frame_size, tick, too_slow)
        stopped.append(None if timing else len(steps))
        return timing, steps
    monkeypatch.setattr(retarget_cli, 'time_training', time_training)
    a, b = make_inputs(str(tmp_path))
    run_cli(retarget_cli.main, [a, b, '--checkpoints_dir', str(tmp_path / 'ck'), '--results_dir', str(tmp_path / 'r'),
                                '--display_id', '0', '--plan_only', '--name', 'p', '--minutes', '10'])
    record = json.load(open(tmp_path / 'ck' / 'p' / 'retarget.json'))
    assert stopped[:2] == [None, 1]  # fp32 timed in full; bf16 (3x slower) stopped after one step
    assert record['plan']['amp'] is None


def test_a_budget_too_small_for_any_network_is_refused_after_one_timing(tmp_path, monkeypatch, capsys, candidates):
    a, b = make_inputs(str(tmp_path))
    calls = []
    monkeypatch.setattr(retarget_cli, 'time_training', fake_timing({8: 5.0, 16: 20, 32: 80, 64: 320}, calls))
    start = time.perf_counter()
    line = error_here(capsys, str(tmp_path), a, b, '--minutes', '2', '--amp', 'auto')
    assert 'too short for even 50 iterations here (5.00 s each' in line and 'needs --minutes' in line
    assert calls == [(8, None)] and time.perf_counter() - start < 30  # refused before timing another precision
    assert not os.path.exists(os.path.join(str(tmp_path), 'res'))


def test_time_training_stops_when_told(tiny_data, tmp_path):
    from conftest import TINY
    argv = ['--dataroot', tiny_data, '--checkpoints_dir', str(tmp_path), '--name', 't', *TINY]
    timing, steps = retarget_cli.time_training(argv, (32, 32), lambda: None, too_slow=lambda n, s: n >= 2)
    assert timing is None and len(steps) == 2
    timing, steps = retarget_cli.time_training(argv, (32, 32), lambda: None)
    assert len(steps) == retarget_cli.WARMUP_STEPS + retarget_cli.TIMED_STEPS
    assert timing.step_s == sorted(steps[retarget_cli.WARMUP_STEPS:])[1] and timing.save_s > 0


def test_choose_takes_the_widest_that_reaches_its_threshold():
    rows = [budget.Candidate(64, 8, 50), budget.Candidate(64, 16, 1000), budget.Candidate(64, 32, 5000)]
    assert budget.choose(rows, lambda c: {8: 8000, 16: 2000, 32: 500}[c.width]).width == 16
    assert budget.choose(rows, lambda c: {8: 80000, 16: 20000, 32: 5000}[c.width]).width == 32
    assert budget.choose(rows, lambda c: {8: 60, 16: 15, 32: 4}[c.width]).width == 8
    assert budget.choose(rows, lambda c: {8: 49, 16: 12, 32: 3}[c.width]) is None


# -- bad input and reruns ------------------------------------------------------------------------------------
@pytest.mark.parametrize('case', ['fps', 'epochs', 'results file', 'checkpoints file', 'inside', 'short clip',
                                  'minutes nan', 'stride', 'scaling'])
def test_more_bad_input_is_one_line_before_anything_is_written(tmp_path, capsys, case):
    tmp = str(tmp_path)
    a, b = make_inputs(tmp)
    args, where = ['--iterations', '5'], os.path.join(tmp, 'ck')
    if case == 'fps':
        args += ['--fps', '-5']
    elif case == 'epochs':
        args += ['--epochs', '-3']
    elif case == 'minutes nan':
        args = ['--minutes', 'nan']
    elif case in ('results file', 'checkpoints file'):
        flag = '--results_dir' if case == 'results file' else '--checkpoints_dir'
        open(os.path.join(tmp, 'afile'), 'w').close()
        args += [flag, os.path.join(tmp, 'afile')]
    elif case == 'stride':
        args += ['--frame_stride', '4']  # B has 7 frames: 9 needed
    elif case == 'scaling':
        args += ['--resize_or_crop', 'scale_width']
    elif case == 'inside':
        args += ['--checkpoints_dir', os.path.join(b, 'ck')]
        where = os.path.join(b, 'ck')
    else:
        for t in range(2, 7):
            os.remove(os.path.join(b, f'{t}.png'))
    line = error_here(capsys, tmp, a, b, *args)
    expected = {'fps': '--fps -5', 'epochs': '--epochs -3: give a whole number',
                'minutes nan': '--minutes nan: give',
                'results file': f'--results_dir {tmp}/afile: {tmp}/afile is a file',
                'checkpoints file': f'--checkpoints_dir {tmp}/afile: {tmp}/afile is a file',
                'inside': f'--checkpoints_dir {b}/ck is inside the input {b}',
                'short clip': f'{b}: its longest clip ({b}) has 2 frame(s)',
                'stride': f'{b}: its longest clip ({b}) has 7 frame(s); Recycle-GAN learns from 3 frames 4 apart',
                'scaling': '--resize_or_crop is set by retarget.py'}[case]
    assert expected in line
    assert not os.path.exists(where) or os.path.isfile(where)  # no run folder, no links, no log


def test_plan_only_never_trains_and_restart_mends_a_broken_record(tmp_path, monkeypatch, capsys):
    tmp = str(tmp_path)
    record, _ = plan_here(monkeypatch, tmp, {8: 0.01}, '--iterations', '1000000', '--ngf', '8', '--amp', 'off')
    folder = os.path.join(tmp, 'ck', 'p')
    a, b = os.path.join(tmp, 'walk_day.mp4'), os.path.join(tmp, 'walk_night')
    argv = [a, b, '--checkpoints_dir', os.path.join(tmp, 'ck'), '--results_dir', os.path.join(tmp, 'res'),
            '--display_id', '0', '--nThreads', '0', '--plan_only', '--name', 'p', '--iterations', '1000000',
            '--ngf', '8', '--amp', 'off']
    capsys.readouterr()
    run_cli(retarget_cli.main, argv)  # a second time: the recorded plan, and still no training
    assert 'plan (recorded): 1,000,000 iterations' in capsys.readouterr().out
    assert not os.path.exists(os.path.join(folder, 'latest_train_state.pth'))
    with open(os.path.join(folder, 'retarget.json'), 'w') as f:
        f.write('{"plan": 3')
    with pytest.raises(SystemExit):
        run_cli(retarget_cli.main, argv)
    assert 'is not a whole record of retarget.py' in capsys.readouterr().err
    run_cli(retarget_cli.main, argv + ['--restart'])
    assert json.load(open(os.path.join(folder, 'retarget.json')))['plan']['iterations'] == 1000000


def test_ctrl_c_while_starting_is_one_line(tmp_path):
    a, b = make_inputs(str(tmp_path))
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'retarget.py'), *retarget_argv(str(tmp_path), a, b,
                                '--iterations', '5')], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(0.3)  # importing torch
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 130 and errors.strip().splitlines() == [
        'interrupted: run the same command again to go on'], errors


def test_outputs_at_the_inputs_size_from_either_scale(tmp_path):
    tmp = str(tmp_path)
    a, b = make_inputs(tmp)
    rng = np.random.default_rng(1)
    big = os.path.join(tmp, 'big_day.mp4')
    write_video(big, [np.asarray(Image.fromarray(f).resize((96, 64))) for f in make_clip(rng, 'A', 5, 48)], FPS_A)
    for at in ('train', 'input'):
        result = run(tmp, big, b, '--iterations', '2', '--epochs', '1', '--translate_at', at, '--name', at)
        info = video_info(os.path.join(tmp, 'res', at, 'big_day_as_walk_night.mp4'))
        assert (info.width, info.height, info.frames) == (96, 64, 5)
        scale = 'training' if at == 'train' else 'inputs'
        assert f'translating at the {scale} scale' in result.stdout


def test_a_signal_after_the_last_step_still_stops_training():
    """train.py's loop reads Ctrl-C once a step: one that comes after the last step (during the last saves) must
    not be lost, or retarget.py would go on to translate as if nobody had asked it to stop."""
    import train
    with pytest.raises(SystemExit) as stop:
        with train.StopRequest():
            os.kill(os.getpid(), signal.SIGINT)
    assert stop.value.code == 128 + signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_the_sheet_shows_the_first_middle_and_last_frames(tmp_path):
    from scripts.retarget_sheet import sheet
    path = str(tmp_path / 'clip_side_by_side.mp4')
    write_video(path, [np.full((16, 32, 3), 20 * t, np.uint8) for t in range(11)], 10)  # frame t: grey 20 t
    picture = sheet([path, path], width=64, gap=2)
    assert picture.shape == (2 * 3 * 32 + 5 * 2, 64, 3)  # 2 videos x 3 frames of 64 x 32, 5 gaps
    greys = [picture[row * 34 + 16].mean() for row in range(3)]
    assert greys == pytest.approx([0, 100, 200], abs=4)  # frames 0, 5 and 10 (H.264 rounds the greys a little)
