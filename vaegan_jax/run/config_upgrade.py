"""Older config.json files in today's layout: the one place that knows them.

config_file.read applies `upgrade` to every config.json it reads, so
workdirs and exported models written by earlier versions (such as
pretrained/vaegan64) load with today's code, and no other module needs a
fallback for a missing key.
"""
import json

# Values that configs written before a key existed were trained with.
_LEGACY = {'model': {'dtype': 'float32', 'initial_fill': 'none',
                     'fill_iterations': 100, 'residual_gate': False},
           'loss': {'kl_free_bits': 0.0, 'prior_hole_weight': 0.0},
           'data': {'grayscale_prob': 0.0, 'channel_permute_prob': 0.0,
                    'tfds_download': False}}


# Networks registered under another name before.
_RENAMED = {'vaegan': 'vae'}

# Sub-configs of networks registered later, as configs/default.py first
# gave them: an older config names another network, so these are unused but
# keep the layout complete.
_LATER_NETWORKS = {
    'attention': {'base_channels': 16, 'encoder_channels': 16,
                  'max_channels': 128, 'num_down': 3, 'latent_channels': 16,
                  'dilations': [1, 2, 4, 8], 'fill_iterations': 100,
                  'residual_gate': True, 'attention_channels': 32,
                  'attention_stride': 4, 'band_sigma': 2.0,
                  'softmax_scale': 10.0, 'num_offsets': 4, 'window': 3,
                  'min_distance': 0, 'blend': 'linear', 'band_scale': 0.0},
    'multiscale': {'channels': 32, 'max_channels': 128, 'num_layers': 3,
                   'num_scales': 2}}


def upgrade(config: dict) -> dict:
  """An older config.json's dict in today's layout (configs/default.py).

  The one place that knows old layouts: flat model keys become
  model.inpainter='vae' with model.vae, and model.discriminator='patch'
  with model.patch; model.generator (the name of the inpainter) becomes
  model.inpainter, and the network once registered as 'vaegan' is 'vae';
  loss.<term>_weight become loss.weights.<term>; keys that did not exist
  yet get the values those runs used.
  """
  config = json.loads(json.dumps(config))  # A deep copy.
  model = config.get('model', {})
  if isinstance(model.get('generator'), str):
    name = model.pop('generator')
    model['inpainter'] = _RENAMED.get(name, name)
    for old, new in _RENAMED.items():
      if old in model:
        model.setdefault(new, model.pop(old))
  if 'inpainter' not in model and 'num_down' in model:
    for section, values in _LEGACY.items():
      for key, value in values.items():
        config.setdefault(section, {}).setdefault(key, value)
    pick = lambda *keys: {k: model[k] for k in keys}  # pylint: disable=unnecessary-lambda-assignment
    config['model'] = {
        'inpainter': 'vae', 'discriminator': 'patch',
        'dtype': model['dtype'],
        'vae': pick('base_channels', 'encoder_channels', 'max_channels',
                       'num_down', 'latent_channels', 'dilations',
                       'initial_fill', 'fill_iterations', 'residual_gate'),
        'patch': {'channels': model['disc_channels'],
                  'max_channels': model['max_channels'],
                  'num_layers': model['disc_layers']}}
  loss = config.get('loss', {})
  if 'weights' not in loss and 'kl_weight' in loss:
    weights = {'recon': 1.0, 'd_adv': 1.0}
    for old, new in (('kl', 'kl'), ('feature', 'feature'), ('adv', 'g_adv'),
                     ('prior_valid', 'prior_valid'),
                     ('prior_hole', 'prior_hole'), ('r1', 'r1')):
      weights[new] = loss.pop(f'{old}_weight')
    loss['weights'] = weights
  for name, sub in _LATER_NETWORKS.items():
    if 'inpainter' in config.get('model', {}):
      config['model'].setdefault(name, {})
      for key, value in sub.items():  # Keys added to a network later.
        config['model'][name].setdefault(key, value)
  config.setdefault('init_from', '')
  config.setdefault('lock_timeout', 300.0)
  # Runs from before the held-out scores while training had none, and
  # trained on every image of a folder.
  config.setdefault('eval_every', 0)
  config.setdefault('eval', {'evaluator': 'during_training',
                             'num_images': 64, 'best_metric': 'lpips'})
  config.setdefault('data', {}).setdefault('folder_heldout', 0)
  return config
