"""lavabridge's performance suite: ``python -m benchmarks.run [--quick]`` (see :mod:`benchmarks.run`)."""
