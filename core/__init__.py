"""CNN Model Explorer's engine: datasets, models, training, evaluation. Never imports Streamlit."""
