"""Per-op times of compiled XLA programs, from a jax.profiler trace.

XLA:CPU tags each thunk it runs with its HLO instruction name; summing those
events per name on the executor threads gives each op's wall time.  The
compiled HLO text supplies each op's opcode and shapes, and the FLOPs of
convolutions and dots, so slow ops show as low GFLOP/s.
"""
import collections
import glob
import math
import os
import re
import tempfile

_INSTR = re.compile(r'^\s*(?:ROOT )?%?([\w.\-]+) = (\S+?)(?:\{[^}]*\})? '
                    r'(\w[\w-]*)\((.*)$')
_SHAPE = re.compile(r'(?:f32|bf16|f16|s32|u32|pred|f64|s8|u8|s64)\[([\d,]*)\]')


def _dims(text):
  m = _SHAPE.search(text)
  return [int(d) for d in m.group(1).split(',') if d] if m else []


def _operands(rest):
  """Operand names of an instruction's argument list."""
  depth, args = 1, ''
  for ch in rest:
    depth += {'(': 1, ')': -1}.get(ch, 0)
    if depth == 0:
      break
    args += ch
  return re.findall(r'%([\w.\-]+)', args)


def _conv_flops(out, kernel, rest):
  labels = re.search(r'dim_labels=\w+_(\w+)->', rest)
  o = kernel[labels.group(1).index('o')] if labels else 1
  groups = 1
  for key in ('feature_group_count', 'batch_group_count'):
    m = re.search(key + r'=(\d+)', rest)
    groups *= int(m.group(1)) if m else 1
  # The input gradient of a strided conv dilates its input with zeros
  # (lhs_dilate=2x2); like XLA's cost analysis, count only the real taps.
  dilate = re.search(r'lhs_dilate=([\dx]+)', rest)
  holes = math.prod(int(d) for d in dilate.group(1).split('x')) if dilate else 1
  return (2 * math.prod(out) * math.prod(kernel) // max(o, 1) // groups
          // holes)


def hlo_ops(hlo_text: str):
  """{name: (opcode, output shape, flops or 0)} of an HLO module's ops.

  A convolution or dot inside a fusion or call lends its FLOPs and opcode to
  the instruction that runs it, the name the trace shows.
  """
  parsed, shapes = [], {}
  for line in hlo_text.splitlines():
    m = _INSTR.match(line)
    if m:
      name, shape, opcode, rest = m.groups()
      shapes[name] = _dims(shape)
      parsed.append((name, shape, opcode, rest))
  ops, inner = {}, {}
  for name, shape, opcode, rest in parsed:
    flops = 0
    args = [shapes.get(a, []) for a in _operands(rest)]
    if opcode == 'convolution' and len(args) == 2:
      flops = _conv_flops(shapes[name], args[1], rest)
    elif opcode == 'dot' and len(args) == 2:
      dims = re.search(r'lhs_contracting_dims=\{([\d,]*)\}', rest)
      k = math.prod(args[0][int(i)] for i in dims.group(1).split(',')
                    if i) if dims else 1
      flops = 2 * math.prod(shapes[name]) * k
    ops[name] = (opcode, shape, flops)
    if flops:
      inner[name] = (opcode, flops)
  # Computations called by fusions / calls: credit the calling op.
  callee = re.compile(r'(?:calls|to_apply)=%?([\w.\-]+)')
  comp_of, current = {}, None
  for line in hlo_text.splitlines():
    header = re.match(r'^(?:ENTRY )?%?([\w.\-]+) [(]', line)
    if header and '=' not in line.split('(')[0]:
      current = header.group(1)
    m = _INSTR.match(line)
    if m and m.group(1) in inner:
      comp_of.setdefault(current, []).append(inner[m.group(1)])
  for name, shape, opcode, rest in parsed:
    m = callee.search(rest)
    if m and m.group(1) in comp_of and not ops[name][2]:
      kinds = comp_of[m.group(1)]
      ops[name] = (kinds[0][0], shape, sum(f for _, f in kinds))
  return ops


def trace_op_times(fn, runs: int):
  """Seconds per call of each HLO op name over `runs` traced calls of fn()."""
  import jax  # pylint: disable=g-import-not-at-top
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    jax.profiler.start_trace(tmp)
    for _ in range(runs):
      fn()
    jax.profiler.stop_trace()
    path = sorted(glob.glob(os.path.join(tmp, '**', '*.xplane.pb'),
                            recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, 'rb') as f:
      space.ParseFromString(f.read())
  spans = collections.defaultdict(list)
  for plane in space.planes:
    meta = plane.event_metadata
    for line in plane.lines:
      if not line.name.startswith('tf_XLA'):
        continue
      for event in line.events:
        name = meta[event.metadata_id].name
        if not name.startswith(('end: ', 'ThunkExecutor', 'Threadpool')):
          start = line.timestamp_ns * 1000 + event.offset_ps
          spans[name].append((start, start + event.duration_ps))
  # An op split over worker threads shows once per thread: its wall time is
  # the union of its intervals.
  times = collections.Counter()
  for name, intervals in spans.items():
    end, total = -1, 0
    for a, b in sorted(intervals):
      if b > end:
        total += b - max(a, end)
        end = b
    times[name] = total * 1e-12 / runs
  return times


def op_table(times, ops, top: int = 15):
  """Rows (op, opcode, shape, ms, share, GFLOP/s) of the slowest ops."""
  total = sum(t for n, t in times.items() if n in ops) or 1.0
  rows = []
  for name, t in times.most_common():
    if name not in ops:
      continue
    opcode, shape, flops = ops[name]
    rows.append((name, opcode, shape, 1e3 * t, t / total,
                 flops / t / 1e9 if flops and t else 0.0))
  by_kind = collections.Counter()
  for name, t in times.items():
    if name in ops:
      by_kind[ops[name][0] if ops[name][0] in ('convolution', 'dot')
              else 'other'] += t
  return rows[:top], {k: v / total for k, v in by_kind.items()}, total


def _kind(opcode, shape):
  if opcode not in ('convolution', 'dot'):
    return 'other'
  dims = _dims(shape)
  # A weight gradient's output is a kernel, [O, k, k, I] with k <= 5; no
  # activation of the configs benchmarked here is that small.
  if opcode == 'convolution' and len(dims) == 4 and dims[1] == dims[2] <= 5:
    return 'conv weight grad'
  return opcode


def kind_summary(times, ops):
  """{kind: (op ms, GFLOP, GFLOP/s)} for convolutions, weight-gradient
  convolutions, dots and everything else, summed over ops."""
  ms, flops = collections.Counter(), collections.Counter()
  for name, t in times.items():
    if name in ops:
      opcode, shape, f = ops[name]
      kind = _kind(opcode, shape)
      ms[kind] += 1e3 * t
      flops[kind] += f
  return {k: (ms[k], flops[k] / 1e9,
              flops[k] / ms[k] / 1e6 if ms[k] and flops[k] else 0.0)
          for k in ms}
