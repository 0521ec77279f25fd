"""A results page: <web_dir>/index.html showing tables of images kept in <web_dir>/images/."""
import os

import dominate
from dominate.tags import a, br, h3, img, meta, p, table, td, tr, video

from .errors import UserError
from .util import atomic_write


class HTML:
    def __init__(self, web_dir, title, refresh=0):
        """refresh > 0 makes the browser reload the page every `refresh` seconds."""
        self.web_dir = web_dir
        self.img_dir = os.path.join(web_dir, 'images')
        try:
            os.makedirs(self.img_dir, exist_ok=True)
        except OSError as err:
            raise UserError(f'cannot create {self.img_dir} ({err.strerror or err}): pick a folder you can write to '
                            f'(--results_dir, --checkpoints_dir)') from None
        self.doc = dominate.document(title=title)
        if refresh > 0:
            with self.doc.head:
                meta(http_equiv='refresh', content=str(refresh))

    def get_image_dir(self):
        return self.img_dir

    def add_header(self, text):
        with self.doc:
            h3(text)

    def add_images(self, ims, txts, links, width=400):
        """One table row: image files (relative to images/), their captions, and what each links to."""
        with self.doc:
            with table(border=1, style='table-layout: fixed;'):
                with tr():
                    for im, txt, link in zip(ims, txts, links):
                        with td(style='word-wrap: break-word;', halign='center', valign='top'):
                            with p():
                                with a(href=f'images/{link}'):
                                    img(style=f'width:{width}px', src=f'images/{im}')
                                br()
                                p(txt)

    def add_videos(self, files, height):
        """One table row playing and linking each video (paths relative to web_dir, e.g. videos/clip.mp4)."""
        with self.doc, table(border=1, style='table-layout: fixed;'), tr():
            for file in files:
                with td(style='word-wrap: break-word;', halign='center', valign='top'):
                    video(src=file, controls=True, style=f'height:{height}px')
                    br()
                    a(os.path.basename(file), href=file)

    def add_image(self, src, alt, width=None):
        """One standalone image (path relative to web_dir), e.g. a plot."""
        with self.doc:
            img(src=src, alt=alt, style=f'width:{width}px' if width else '')

    def save(self):
        html = self.doc.render().encode()
        atomic_write(os.path.join(self.web_dir, 'index.html'), lambda f: f.write(html))
