"""Default config: CPU, the embedded photos (vaegan_jax/data/photos), 64x64.

Trains in under 30 minutes on a 2-core CPU and leaves a checkpoint that
visibly inpaints:  python train.py --config configs/default.py
"""
import ml_collections


def get_config():
  """Returns the default training configuration."""
  config = ml_collections.ConfigDict()
  config.name = 'default'
  config.seed = 0
  config.image_size = 64

  # Data.  source: 'embedded' (the shipped photos), 'tfds', 'folder'.
  config.data = ml_collections.ConfigDict()
  config.data.source = 'embedded'
  config.data.tfds_name = ''
  config.data.tfds_split = 'train'
  config.data.tfds_eval_split = ''
  config.data.data_dir = ''          # TFDS data_dir; may be a gs:// path.
  config.data.tfds_download = False  # try download_and_prepare if missing.
  config.data.folder = ''            # a folder of the user's own images.
  # Its first (sorted) images set aside for evaluation, never trained on,
  # when it has more than twice as many (0: none).
  config.data.folder_heldout = 8
  config.data.min_crop_scale = 0.15  # random crop side as a fraction of the short side.
  config.data.max_crop_scale = 1.0
  # Colour augmentation of training crops (input_pipeline._augment_colour).
  config.data.grayscale_prob = 0.2
  config.data.channel_permute_prob = 0.5
  config.data.shuffle_buffer = 1024
  config.data.prefetch = 2

  # Masks (vaegan_jax/data/masks.py).  Mixture weights need not sum to 1.
  config.masks = ml_collections.ConfigDict()
  config.masks.free_form = 0.4   # DeepFill v2 brush strokes (+ a box).
  config.masks.thin = 0.1        # LaMa-style thin strokes.
  config.masks.medium = 0.2      # LaMa-style medium strokes.
  config.masks.thick = 0.2       # LaMa-style thick strokes.
  config.masks.box = 0.1         # LaMa-style boxes.
  config.masks.min_ratio = 0.05  # hole-area ratio range of every mask.
  config.masks.max_ratio = 0.6

  # Networks by name (vaegan_jax/models/inpainters.py REGISTRY); each reads its own
  # sub-config config.model.<name> as keyword arguments.
  config.model = ml_collections.ConfigDict()
  config.model.inpainter = 'attention'
  config.model.discriminator = 'patch'
  config.model.dtype = 'float32'     # compute dtype; params stay float32.
  config.model.vae = ml_collections.ConfigDict()
  # 'harmonic': G refines a parameter-free fill of the holes (push-pull,
  # then fill_iterations Jacobi steps of Laplace's equation;
  # fills.harmonic_fill); 'pyramid': push-pull only; 'none': G paints the
  # holes from scratch.
  config.model.vae.initial_fill = 'harmonic'
  config.model.vae.fill_iterations = 100
  # Residual scaled by a learned sigmoid gate (starts mostly shut).
  config.model.vae.residual_gate = True
  # 'attention' (models.AttentionInpainter): 'vae' plus texture copied
  # from the visible region by contextual attention (contextual_attention.py).
  config.model.attention = ml_collections.ConfigDict()
  config.model.attention.fill_iterations = 100
  config.model.attention.residual_gate = True
  config.model.attention.attention_channels = 32
  config.model.attention.attention_stride = 4  # cells of 4x4 px.
  config.model.attention.band_sigma = 8.0      # copied detail: fill - blur.
  config.model.attention.softmax_scale = 10.0
  config.model.attention.num_offsets = 4  # candidate translations per image.
  config.model.attention.window = 3       # cells that agree on one offset.
  # Candidates >= 4 cells apart, and a variance-preserving blend where two
  # copies meet: the copy keeps the photo's contrast (docs/quality.md).
  config.model.attention.min_distance = 4
  config.model.attention.blend = 'energy'
  # sigma = band_scale * hole width (at most band_sigma): thin strokes keep
  # more of the fill's structure (docs/quality.md); 0: fixed band_sigma.
  config.model.attention.band_scale = 0.5
  config.model.patch = ml_collections.ConfigDict()
  # 'multiscale': 'patch' at 1, 1/2, ... of the image (discriminators.py).
  config.model.multiscale = ml_collections.ConfigDict()
  config.model.multiscale.num_scales = 2
  set_sizes(config, inpainters=dict(
      base_channels=16, encoder_channels=16, max_channels=128,
      num_down=3,                # downsampling factor 2**num_down.
      latent_channels=16,        # spatial latent at H/2**num_down.
      dilations=(1, 2, 4, 8)),   # residual blocks at the bottleneck.
            discriminators=dict(channels=32, max_channels=128, num_layers=3))

  # Losses (vaegan_jax/training/losses.py).  Each step's total is the weighted sum of
  # its named terms (losses.GENERATOR_TERMS, losses.DISCRIMINATOR_TERMS); a
  # weight of 0 skips the term.
  config.loss = ml_collections.ConfigDict()
  config.loss.weights = ml_collections.ConfigDict()
  config.loss.weights.recon = 1.0        # pixel loss of x_rec = G(z_q).
  config.loss.weights.kl = 0.05          # KL(q || p), after free bits.
  config.loss.weights.feature = 1.0      # Larsen's learned similarity (Dis_l).
  config.loss.weights.g_adv = 0.1        # G's side of L_GAN.
  config.loss.weights.prior_valid = 1.0  # L1 on visible pixels of x_p = G(z_p).
  config.loss.weights.prior_hole = 6.0   # L1 in the hole of x_p (G only).
  config.loss.weights.d_adv = 1.0        # D's side of L_GAN.
  config.loss.weights.r1 = 0.0           # R1 penalty on real images.
  # Options of the terms.
  config.loss.recon_kind = 'l1'      # 'l1' or 'mse' (L1 blurs less).
  config.loss.hole_weight = 6.0      # recon's per-pixel weights.
  config.loss.valid_weight = 1.0
  config.loss.kl_free_bits = 0.1     # nats per latent channel free of KL.
  config.loss.adv_kind = 'nonsaturating'  # or 'hinge'.
  config.loss.adv_on_recon = False   # also treat reconstructions as fakes.

  # Fine-tuning: a workdir or exported model (e.g. pretrained/vaegan64) whose
  # weights start this run (train_loop.init_from); '' starts from scratch.
  config.init_from = ''

  # Optimisation.
  config.optim = ml_collections.ConfigDict()
  config.optim.g_lr = 2e-4
  config.optim.d_lr = 2e-4
  config.optim.b1 = 0.5
  config.optim.b2 = 0.999
  config.optim.schedule = 'constant'  # or 'cosine'.
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0        # global norm; 0 disables.
  config.optim.ema_decay = 0.999

  # Loop.
  config.batch_size = 8               # global; split over local devices.
  config.num_steps = 3000
  config.log_every = 50
  config.image_every = 500
  config.checkpoint_every = 500
  # Held-out scores while training (evaluation/during_training.py): every
  # eval_every steps (0: never), on the training devices; the checkpoint
  # best by eval.best_metric is kept in <workdir>/best.
  config.eval_every = 500
  config.eval = ml_collections.ConfigDict()
  config.eval.evaluator = 'during_training'
  config.eval.num_images = 64
  config.eval.best_metric = 'lpips'  # or 'hole_l1', 'psnr', 'swd'
  config.keep_checkpoints = 3
  # A non-finite loss or gradient skips the update; this many skips in a row
  # stop the run (the last checkpoint is still finite).
  config.max_nonfinite_skips = 20
  # A run holds an exclusive claim on its workdir, renewed every
  # lock_timeout / 10 s (at most 30 s); a claim not renewed for this many
  # seconds is taken over by the next run (docs/reliability.md).
  config.lock_timeout = 300.0
  return config


INPAINTERS = ('vae', 'attention')
DISCRIMINATORS = ('patch', 'multiscale')


def set_sizes(config, *, inpainters=None, discriminators=None):
  """Gives every inpainter the sizes `inpainters` and every discriminator
  the sizes `discriminators`, so that choosing another network by name
  (--config.model.inpainter=vae) compares like with like."""
  for names, sizes in ((INPAINTERS, inpainters),
                       (DISCRIMINATORS, discriminators)):
    for name in names if sizes else ():
      config.model[name].update(sizes)
