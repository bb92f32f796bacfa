"""The parameter-free fills: visible pixels kept, holes within range."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaegan_jax.models import fills


@pytest.mark.parametrize('h,w', [(16, 16), (13, 21), (1, 5)])
@pytest.mark.heavy
def test_pyramid_fill(h, w):
  x = jax.random.uniform(jax.random.PRNGKey(5), (2, h, w, 3), minval=-1)
  m = (jax.random.uniform(jax.random.PRNGKey(6), (2, h, w, 1)) > 0.6
       ).astype(jnp.float32).at[0, 0, 0].set(0.0)
  fill = fills.pyramid_fill(x * (1 - m), m)
  assert fill.shape == x.shape
  np.testing.assert_array_equal(fill * (1 - m), x * (1 - m))
  # Every fill is a weighted mean of visible pixels: inside their range.
  for i in range(2):
    visible = np.asarray(x[i])[np.asarray(m[i, ..., 0]) == 0]
    assert float(fill[i].min()) >= visible.min() - 1e-5
    assert float(fill[i].max()) <= visible.max() + 1e-5
  # A constant image is filled with that constant; a full mask with zeros.
  const = jnp.full((1, h, w, 3), 0.3)
  np.testing.assert_allclose(fills.pyramid_fill(const * (1 - m[:1]), m[:1]),
                             const, atol=1e-6)
  np.testing.assert_array_equal(
      fills.pyramid_fill(x, jnp.ones_like(m)), jnp.zeros_like(x))


def test_harmonic_fill_solves_laplace():
  # A linear ramp is harmonic: the fill of any hole recovers it.
  y, x = jnp.mgrid[:24, :24] / 23.0
  image = jnp.stack([x, y, 0.5 * x + 0.3 * y], -1)[None]
  m = jnp.zeros((1, 24, 24, 1)).at[:, 6:18, 4:14].set(1.0)
  far = fills.pyramid_fill(image * (1 - m), m)
  fill = fills.harmonic_fill(image * (1 - m), m, iterations=400)
  np.testing.assert_array_equal(fill * (1 - m), image * (1 - m))
  assert float(jnp.abs(fill - image).max()) < 0.01
  assert float(jnp.abs(far - image).max()) > 0.05


@pytest.mark.parametrize('shape', [(1, 1, 1, 3), (2, 3, 8, 1), (1, 16, 5, 2)])
def test_exact_doubling_is_the_linear_resize(shape):
  # The push-pull's fast path for a factor of 2 must give what
  # jax.image.resize gives, edges included.
  x = jax.random.uniform(jax.random.PRNGKey(1), shape)
  want = jax.image.resize(x, (shape[0], 2 * shape[1], 2 * shape[2],
                              shape[3]), 'linear')
  got = fills._upsample2(fills._upsample2(x, 1), 2)  # pylint: disable=protected-access
  np.testing.assert_allclose(got, want, atol=1e-6)
