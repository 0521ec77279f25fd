"""Command-line options: TrainOptions for train.py, TestOptions for test.py."""
