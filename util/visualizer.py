"""How a training run shows itself: the visdom dashboard (--display_id > 0; `python -m util.dashboard`
serves one), the HTML page <checkpoints_dir>/<name>/web/index.html with its loss plot loss_plot.png, the
loss log <checkpoints_dir>/<name>/loss_log.txt, and W&B and TensorBoard (--use_wandb, --tensorboard:
util/trackers.py)."""
import logging
import os
import sys
import time

import numpy as np

from . import distributed, util
from .errors import UserError, one_line, warn_once

VISDOM_TIMEOUT_S = 5
GRID_PAD = 2  # pixels between the frames of the visdom image grid
LOSS_PLOT = 'loss_plot.png'  # beside web/index.html
LOSS_PLOT_SIZE, LOSS_PLOT_DPI = (8, 3.5), 100  # inches, pixels per inch


def log(message):
    """Print without breaking a tqdm progress bar."""
    from tqdm import tqdm
    tqdm.write(message)


def connect_visdom(opt):
    """A visdom client for opt's server; raises ConnectionError (or ImportError) when there is none."""
    import visdom
    logging.getLogger('visdom').setLevel(logging.ERROR)  # its info/warning chatter is not for our users

    class Visdom(visdom.Visdom):
        def _handle_post(self, url, data=None):
            # the stock client waits forever on an unreachable host, and takes any answer, even an HTTP error
            # from a server that is not visdom, for success
            response = self.session.post(url, data=data or {}, timeout=VISDOM_TIMEOUT_S)
            response.raise_for_status()
            return response.text

    return Visdom(server=opt.display_server, port=opt.display_port, env=opt.display_env, raise_exceptions=True,
                  use_incoming_socket=False)


class Visualizer:
    def __init__(self, opt):
        self.opt = opt
        self.name = opt.name
        self.display_id = opt.display_id
        self.win_size = opt.display_winsize
        self.ncols = getattr(opt, 'display_single_pane_ncols', 0)
        self.vis = None
        self.warned = False
        self.plot_data = {'X': [], 'Y': [], 'legend': None}
        self.use_html = opt.isTrain and not opt.no_html
        self.web_dir = os.path.join(opt.checkpoints_dir, opt.name, 'web')
        self.img_dir = os.path.join(self.web_dir, 'images')
        self.html_epoch = None
        if self.use_html:
            os.makedirs(self.img_dir, exist_ok=True)
        self.log_name = os.path.join(opt.checkpoints_dir, opt.name, 'loss_log.txt')
        # written with the first line, so that a run which fails to start leaves the log as it was
        self.log_header = f'================ Training Loss ({time.strftime("%c")}) ================\n'
        self.trackers = None  # started by start_trackers, once a resumed run knows its step
        self.tracker_state = {}  # the trackers' own, kept in the training state (checkpoint.py)
        self.last_tracked = None  # (time, step) of the last track(), for the speed

    # -- W&B and TensorBoard ----------------------------------------------------------------------
    def start_trackers(self, step):
        """Start the trackers the options ask for at step (examples trained): a run resumed past step 0
        continues its W&B run and hides TensorBoard events that earlier sittings logged after it."""
        if self.opt.use_wandb or self.opt.tensorboard:
            from .trackers import Trackers
            resumed = step > 0
            self.trackers = Trackers(self.opt, os.path.join(self.opt.checkpoints_dir, self.name),
                                     self.tracker_state if resumed else {}, step + 1 if resumed else 0, vars(self.opt))
            self.tracker_state = self.trackers.state
        self.last_tracked = time.time(), step

    def track(self, step, losses, lr):
        """Log the losses, the learning rate and the speed since the last call (seconds per iteration, images
        per second over every process; an image is one example: a frame, or a strip of frames) at step."""
        if self.trackers is None:
            return
        (then, last_step), now = self.last_tracked, time.time()
        examples, seconds = step - last_step, now - then
        values = {f'loss/{name}': value for name, value in losses.items()}
        values['lr'] = lr
        if examples > 0 and seconds > 0:
            values['speed/step_s'] = seconds * self.opt.batchSize * distributed.world_size() / examples
            values['speed/images_per_s'] = examples / seconds
        self.trackers.scalars(values, step)
        self.last_tracked = now, step

    def close(self):
        if self.trackers is not None:
            self.trackers.close()

    # -- visdom ---------------------------------------------------------------------------------
    def _visdom(self, send):
        """Run send(client); a missing or failing server costs one warning, then later calls retry quietly."""
        if self.display_id <= 0:
            return
        try:
            if self.vis is None:
                self.vis = connect_visdom(self.opt)
            send(self.vis)
        except Exception as err:  # the dashboard must never stop training
            self.vis = None
            if not self.warned:
                self.warned = True
                print(f'warning: no visdom dashboard at {self.opt.display_server}:{self.opt.display_port} '
                      f'({type(err).__name__}); training goes on. Start one with `python -m util.dashboard`, '
                      f'or pass --display_id 0.', file=sys.stderr)

    def display_current_results(self, visuals, epoch, save_result, step=None):
        """Show the current images on visdom and the trackers (at step), and save them to the HTML page when
        save_result is set (and on the first display of every epoch)."""
        images = {label: util.tensor2im(image) for label, image in visuals.items()}
        if self.trackers is not None and step is not None:
            self.trackers.images(images, step)
        if self.display_id > 0:
            self._visdom(lambda vis: self._show_images(vis, images))
        if self.use_html and (save_result or self.html_epoch != epoch):
            self.html_epoch = epoch
            try:
                for label, image in images.items():
                    util.save_image(image, os.path.join(self.img_dir, f'epoch{epoch:03d}_{label}.png'))
                self.update_html(epoch, list(images))
            except (OSError, UserError) as err:  # the page must never stop training
                detail = err.strerror if isinstance(err, OSError) and err.strerror else one_line(err)
                warn_once(f'cannot update the HTML page in {self.web_dir} ({detail}); training goes on')

    def _show_images(self, vis, images):
        """Every image in its own pane (--display_ncols 0), or all in one grid of ncols columns beside a
        table of their labels; a frame is shown --display_winsize pixels on its longer side."""
        chw = [image.transpose(2, 0, 1) for image in images.values()]
        h, w = chw[0].shape[1:]
        zoom = self.win_size / max(h, w)
        if self.ncols > 0:
            labels = list(images)
            rows = ['<tr>' + ''.join(f'<td>{x}</td>' for x in labels[i:i + self.ncols]) + '</tr>'
                    for i in range(0, len(labels), self.ncols)]
            grid_w, grid_h = self.ncols * (w + GRID_PAD) + GRID_PAD, len(rows) * (h + GRID_PAD) + GRID_PAD
            vis.images(chw, nrow=self.ncols, win=f'{self.display_id + 1}', padding=GRID_PAD,
                       opts=dict(title=f'{self.name} images', width=round(zoom * grid_w), height=round(zoom * grid_h)))
            table = f'<table style="border-spacing: 8px 2px">{"".join(rows)}</table>'
            vis.text(table, win=f'{self.display_id + 2}', opts=dict(title=f'{self.name} labels'))
        else:
            for i, (label, image) in enumerate(zip(images, chw)):
                vis.image(image, win=f'{self.display_id + 1 + i}',
                          opts=dict(title=label, width=round(zoom * w), height=round(zoom * h)))

    def plot_current_losses(self, epoch, counter_ratio, losses):
        """Add a point (fractional epoch, every loss) to the visdom loss plot."""
        if self.plot_data['legend'] is None:
            self.plot_data['legend'] = list(losses)
        self.plot_data['X'].append(epoch + counter_ratio)
        self.plot_data['Y'].append([losses[k] for k in self.plot_data['legend']])
        if self.display_id <= 0:
            return
        legend = self.plot_data['legend']
        x = np.stack([np.array(self.plot_data['X'])] * len(legend), 1)
        y = np.array(self.plot_data['Y'])
        self._visdom(lambda vis: vis.line(X=x, Y=y, win=f'{self.display_id}', opts=dict(
            title=f'{self.name} loss over time', legend=legend, xlabel='epoch', ylabel='loss')))

    # -- HTML page and log ------------------------------------------------------------------------
    def update_html(self, epoch, labels):
        from . import html  # dominate only where a page is written (--no_html runs, scripts/gpu_check.py, need none)
        page = html.HTML(self.web_dir, f'Experiment name = {self.name}', refresh=1)
        if self.plot_data['X']:
            self.save_loss_plot(os.path.join(self.web_dir, LOSS_PLOT))
            page.add_header('losses')
            page.add_image(LOSS_PLOT, 'loss curves', width=LOSS_PLOT_SIZE[0] * LOSS_PLOT_DPI)
        for n in range(epoch, 0, -1):
            names = [f'epoch{n:03d}_{label}.png' for label in labels]
            if not os.path.exists(os.path.join(self.img_dir, names[0])):
                continue
            page.add_header(f'epoch [{n}]')
            page.add_images(names, labels, names, width=self.win_size)
        page.save()

    def save_loss_plot(self, path):
        """Every loss against fractional epoch, as a PNG (the same curves as the visdom plot)."""
        from matplotlib.figure import Figure  # renders with Agg: no display, no pyplot state

        figure = Figure(figsize=LOSS_PLOT_SIZE, dpi=LOSS_PLOT_DPI, layout='constrained')
        axes = figure.add_subplot()
        axes.plot(self.plot_data['X'], self.plot_data['Y'], label=self.plot_data['legend'])
        axes.set(title=f'{self.name} loss over time', xlabel='epoch', ylabel='loss')
        axes.grid(alpha=0.3)
        axes.legend(loc='upper left', bbox_to_anchor=(1, 1), fontsize='small')
        # the page reloads every second: it must never see a half-written file
        util.atomic_write(path, lambda f: figure.savefig(f, format='png'))

    def print_current_losses(self, epoch, iters, losses, t_comp, t_data):
        """Print the losses and append the same line to loss_log.txt."""
        message = f'(epoch: {epoch}, iters: {iters}, time: {t_comp:.3f}, data: {t_data:.3f}) '
        self.log_line(message + ''.join(f'{k}: {v:.3f} ' for k, v in losses.items()))

    def log_line(self, message):
        """Print a line and append it to loss_log.txt."""
        log(message)
        try:
            with open(self.log_name, 'a') as f:
                f.write(self.log_header + message + '\n')
            self.log_header = ''
        except OSError as err:  # the log must never stop training
            warn_once(f'cannot write {self.log_name} ({err.strerror or err}); training goes on, its losses are '
                      f'printed only')


def save_images(webpage, visuals, image_path, aspect_ratio=1.0, width=256):
    """Save test results as <image name>_<label>.png and add them to the page as one row."""
    name = os.path.splitext(os.path.basename(image_path[0]))[0]
    webpage.add_header(name)
    files = []
    for label, image in visuals.items():
        files.append(f'{name}_{label}.png')
        path = os.path.join(webpage.get_image_dir(), files[-1])
        try:
            util.save_image(util.tensor2im(image), path, aspect_ratio)
        except OSError as err:
            raise UserError(f'cannot write {path} ({err.strerror or err}): free some disk space or pick another '
                            f'--results_dir') from None
    webpage.add_images(files, list(visuals), files, width=width)
