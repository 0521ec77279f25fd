"""One generator in one direction, for translating a folder of frames (test.py only)."""
from util.errors import UserError
from . import networks
from .base_model import BaseModel


class TestModel(BaseModel):
    """Loads <which_epoch>_net_G<model_suffix>.pth and translates --dataset_mode single images:
    --model_suffix _A uses a trained G_A (A -> B), _B a trained G_B (B -> A)."""
    name = 'test'

    @staticmethod
    def modify_commandline_options(parser, is_train):
        if is_train:
            raise UserError('--model test only translates (test.py); train with recycle_gan, reCycle_gan or cycle_gan')
        parser.set_defaults(dataset_mode='single')
        parser.add_argument('--model_suffix', default='',
                            help='load <which_epoch>_net_G<model_suffix>.pth: _A for G_A (A -> B), _B for G_B (B -> A)')
        return parser

    def __init__(self, opt):
        super().__init__(opt)
        self.visual_names = ['real', 'fake']
        self.model_names = ['G' + opt.model_suffix]
        in_nc, out_nc = (opt.output_nc, opt.input_nc) if opt.model_suffix == '_B' else (opt.input_nc, opt.output_nc)
        self.netG = self.place(networks.define_G(in_nc, out_nc, opt.ngf, opt.which_model_netG, opt.norm,
                                                 not opt.no_dropout, opt.init_type, self.max_params()))
        setattr(self, 'netG' + opt.model_suffix, self.netG)

    def set_input(self, input):
        self.real = self.to_device(input['A'])
        self.image_paths = input['A_paths']

    def forward(self):
        self.fake = self.netG(self.real)
