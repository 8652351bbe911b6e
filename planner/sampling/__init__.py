"""Lossless speculative sampling on explicit distributions (numpy), and Monte Carlo checks of it.

rejection.py: Leviathan et al.'s Algorithm 1 and SpecInfer's multi-step speculative sampling on a token
tree; bigram.py: small Markov language models that stand in for the target and the draft; generate.py:
sequences by repeated speculative steps; checks.py: the statistical tests (losslessness, mean tokens).
"""
