"""Process start-up: the settings that entry points apply."""
import os

from vaegan_jax.run import startup


def test_quick_cpu_compile_adds_the_flag_once_and_respects_the_user(
    monkeypatch):
  monkeypatch.setenv('XLA_FLAGS', '--xla_force_host_platform_device_count=2')
  startup.quick_cpu_compile()
  startup.quick_cpu_compile()
  assert os.environ['XLA_FLAGS'] == (
      '--xla_force_host_platform_device_count=2 '
      '--xla_cpu_use_fusion_emitters=false')
  monkeypatch.setenv('XLA_FLAGS', '--xla_cpu_use_fusion_emitters=true')
  startup.quick_cpu_compile()
  assert os.environ['XLA_FLAGS'] == '--xla_cpu_use_fusion_emitters=true'
  monkeypatch.delenv('XLA_FLAGS')
  startup.quick_cpu_compile()
  assert os.environ['XLA_FLAGS'] == '--xla_cpu_use_fusion_emitters=false'
