"""CNN Model Explorer's engine: datasets, models, training, evaluation. Never imports Streamlit."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU instruction sets) is noise for our users;
# it must be set before TensorFlow is first imported, wherever that happens.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
