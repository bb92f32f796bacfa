"""The package's layout: subpackages import only the ones below them."""
import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'vaegan_jax'
# Which subpackages each may import (docs/design.md, "The map").
ALLOWED = {
    'models': set(), 'data': set(), 'run': set(), 'configs': set(),
    'training': {'models', 'data', 'run', 'configs', 'evaluation'},
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


def _module_imports(package: pathlib.Path):
  """{module: modules of the package it imports}, from every import in the
  file (those inside functions included).  Modules are dotted names;
  a package is its __init__."""
  root = package.name
  files = {}
  for path in package.rglob('*.py'):
    parts = path.relative_to(package.parent).with_suffix('').parts
    if parts[-1] == '__init__':
      parts = parts[:-1]
    files['.'.join(parts)] = path
  graph = {}
  for name, path in files.items():
    edges = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.ImportFrom) and node.module:
        for alias in node.names:
          full = f'{node.module}.{alias.name}'
          edges.add(full if full in files else node.module)
      elif isinstance(node, ast.Import):
        edges.update(a.name for a in node.names)
    graph[name] = {e for e in edges
                   if e in files and e.split('.')[0] == root and e != name}
  return graph


def _cycles(graph):
  """Each import cycle once, as a list of modules (Tarjan's strongly
  connected components of more than one module)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return found


def test_no_import_cycles_between_modules():
  """Within a subpackage too, imports made inside functions included: a
  cycle means two modules reach into each other (docs/design.md)."""
  cycles = _cycles(_module_imports(PACKAGE))
  assert not cycles, cycles


def test_the_cycle_finder_finds_cycles(tmp_path):
  pkg = tmp_path / 'pkg'
  (pkg / 'sub').mkdir(parents=True)
  (pkg / '__init__.py').write_text('')
  (pkg / 'sub' / '__init__.py').write_text('')
  (pkg / 'sub' / 'a.py').write_text('from pkg.sub import b\n')
  (pkg / 'sub' / 'b.py').write_text(
      'def f():\n  from pkg.sub import c  # inside a function\n')
  (pkg / 'sub' / 'c.py').write_text('import pkg.sub.a\n')
  (pkg / 'sub' / 'd.py').write_text('from pkg.sub import a\n')
  assert _cycles(_module_imports(pkg)) == [
      ['pkg.sub.a', 'pkg.sub.b', 'pkg.sub.c']]
