"""The Bergstra & Bengio (JMLR 2012) study on LSTMs: random, grid and Sobol search of one space (README.md here).

``run`` runs the three sweeps through the searchsvc command line and ships their tables; ``rerun`` trains
trials of a sweep again outside Ray; ``regenerate`` (with ``results`` and ``reproducibility``) makes every
figure and number of the study from the shipped tables alone. The study sits above searchsvc, analysis and
the training code as a user does; none of them imports it.
"""
