"""What gets trained: the LSTM model family, its data sets and the trainable, plus ready sweep specs."""
