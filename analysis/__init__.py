"""What is learned from finished trials: efficiency curves, estimators, importance and plots."""
