"""config_upgrade: older config.json files load in today's layout."""
import json
import os

from vaegan_jax.configs import default
from vaegan_jax.inference import api
from vaegan_jax.run import config_file
from vaegan_jax.run import config_upgrade
from vaegan_jax.training import config_lib


def test_old_config_json_is_upgraded_when_read(tmp_path):
  # The earlier shipped model's config.json predates networks by name.
  shipped = os.path.join(api.PRETRAINED_DIR, 'vaegan64_r1')
  with open(os.path.join(shipped, config_file.NAME)) as f:
    old = json.load(f)['config']
  assert 'num_down' in old['model'] and 'kl_weight' in old['loss']
  config = config_file.read(shipped)
  config_lib.check_keys(config, default.get_config())
  assert config.model.inpainter == 'vae'
  assert config.model.vae.num_down == old['model']['num_down']
  assert config.model.patch.num_layers == old['model']['disc_layers']
  assert config.loss.weights.kl == old['loss']['kl_weight']
  assert config.loss.weights.g_adv == old['loss']['adv_weight']
  assert config.loss.weights.prior_hole == old['loss']['prior_hole_weight']
  # Older still: keys that did not exist yet get the values used then.
  for section, key in [('model', 'initial_fill'), ('model', 'residual_gate'),
                       ('loss', 'kl_free_bits'), ('loss', 'prior_hole_weight'),
                       ('data', 'grayscale_prob'), ('model', 'dtype')]:
    del old[section][key]
  workdir = tmp_path / 'old'
  workdir.mkdir()
  (workdir / config_file.NAME).write_text(json.dumps(
      {'format_version': config_file.FORMAT_VERSION, 'config': old}))
  config = config_file.read(str(workdir))
  config_lib.check_keys(config, default.get_config())
  assert config.model.vae.initial_fill == 'none'
  assert config.model.vae.residual_gate is False
  assert config.model.dtype == 'float32'
  assert config.loss.kl_free_bits == 0 and config.loss.weights.prior_hole == 0
  assert config.data.grayscale_prob == 0
  # Today's layout passes through unchanged.
  new = default.get_config()
  assert config_upgrade.upgrade(json.loads(new.to_json())) == json.loads(
      new.to_json())


def test_attention_keys_added_later_get_the_values_trained_with():
  config = json.loads(default.get_config().to_json())
  for key in ('min_distance', 'blend', 'band_scale'):
    del config['model']['attention'][key]
  upgraded = config_upgrade.upgrade(config)['model']['attention']
  assert upgraded['min_distance'] == 0 and upgraded['blend'] == 'linear'
  assert upgraded['band_scale'] == 0


def test_config_naming_the_inpainter_generator_is_upgraded():
  # The shipped model's config.json names its inpainter `model.generator`
  # and keeps the plain network's sub-config as `model.vaegan`.
  shipped = os.path.join(api.PRETRAINED_DIR, api.DEFAULT_MODEL)
  with open(os.path.join(shipped, config_file.NAME)) as f:
    old = json.load(f)['config']['model']
  assert old['generator'] == 'attention' and 'vaegan' in old
  config = config_file.read(shipped)
  config_lib.check_keys(config, default.get_config())
  assert config.model.inpainter == 'attention' and 'generator' not in (
      config.model)
  assert config.model.vae.to_dict() == old['vaegan']
  # A model that was the plain 'vaegan' network is the 'vae' one now.
  renamed = config_upgrade.upgrade({'model': dict(old, generator='vaegan')})
  assert renamed['model']['inpainter'] == 'vae'
