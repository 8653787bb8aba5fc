"""Everything that makes a model: the corpus, its checks and splits, training and evaluation."""
