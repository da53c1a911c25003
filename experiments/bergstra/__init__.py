"""The Bergstra & Bengio (JMLR 2012) study on LSTMs: random, grid and Sobol search of one space (README.md here).

``run`` runs the three sweeps through the searchsvc command line and ships their tables; the rest of the
study reads only those tables.
"""
