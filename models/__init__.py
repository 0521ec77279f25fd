"""Models found by name: --model X is the BaseModel subclass with `name = 'X'` in
models/<x in lower case>_model.py (lower case so that the files also differ on case-insensitive
file systems: recycle_gan and reCycle_gan live together in recycle_gan_model.py), or the one that
lists X in its `aliases` (another codebase's name for it)."""
import importlib
import pathlib

from util.errors import UserError
from .base_model import BaseModel


def _modules():
    return sorted(p.stem for p in pathlib.Path(__file__).parent.glob('*_model.py') if p.stem != 'base_model')


def _models_in(module_name):
    module = importlib.import_module(f'models.{module_name}')
    return {name: cls for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.name
            for name in (cls.name, *cls.aliases)}


def model_names():
    """Every model's name (aliases left out), sorted."""
    return sorted({cls.name for m in _modules() for cls in _models_in(m).values()})


def find_model_using_name(model_name):
    module_name = f'{model_name.lower()}_model'
    model = _models_in(module_name).get(model_name) if module_name in _modules() else None
    if model is None:  # an alias
        model = next((found[model_name] for m in _modules() if model_name in (found := _models_in(m))), None)
    if model is None:
        raise UserError(f'--model {model_name!r} is not one of: {", ".join(model_names())}')
    return model


def get_option_setter(model_name):
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt):
    """Build the --model named in opt (call model.setup(opt) next)."""
    model = find_model_using_name(opt.model)(opt)
    print(f'model [{type(model).__name__}] was created')
    return model
