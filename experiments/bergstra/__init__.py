"""The Bergstra & Bengio (JMLR 2012) study on LSTMs: random, grid and Sobol search of one space (README.md here).

``run`` runs the three sweeps through the searchsvc command line and ships their tables; ``rerun`` runs
the first trials of a sweep again, through the command line too; ``regenerate`` (with ``results`` and
``reproducibility``) makes every figure and number of the study from the shipped tables alone, with the
analysis library. The study uses the service as a user does, by its command line, and none of its
modules; nothing imports the study.
"""
