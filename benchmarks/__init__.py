"""`make bench`: the figures quoted in BENCHMARKS.md, each as a ratio to a baseline run beside it."""
