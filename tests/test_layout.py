"""The package's layout: subpackages import only the ones below them."""
import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'vaegan_jax'
# Which subpackages each may import (docs/design.md, "The map").
ALLOWED = {
    'models': set(), 'data': set(), 'run': set(), 'configs': set(),
    'training': {'models', 'data', 'run', 'configs'},
    'inference': {'models', 'run'},
    'evaluation': {'inference', 'data', 'models', 'run'},
}
MAX_LINES = 400


def _subpackage_imports(path: pathlib.Path):
  """The vaegan_jax subpackages that the module at `path` imports."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    names = []
    if isinstance(node, ast.ImportFrom) and node.module:
      names = [node.module] + [f'{node.module}.{a.name}' for a in node.names]
    elif isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    for name in names:
      parts = name.split('.')
      if parts[0] == 'vaegan_jax' and len(parts) > 1 and parts[1] in ALLOWED:
        found.add(parts[1])
  return found


def test_every_module_belongs_to_a_subpackage():
  top = sorted(p.name for p in PACKAGE.glob('*.py'))
  assert top == ['__init__.py'], top
  assert set(ALLOWED) == {p.name for p in PACKAGE.iterdir() if p.is_dir()
                          and (p / '__init__.py').exists()}


def test_subpackages_import_only_those_below_them():
  wrong = []
  for sub, allowed in ALLOWED.items():
    for path in sorted((PACKAGE / sub).rglob('*.py')):
      extra = _subpackage_imports(path) - allowed - {sub}
      if extra:
        wrong.append(f'{path.relative_to(PACKAGE)} imports {sorted(extra)}')
  assert not wrong, wrong


def test_no_module_is_longer_than_the_limit():
  long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob('*.py')
          if (n := len(p.read_text().splitlines())) > MAX_LINES}
  assert not long, long
