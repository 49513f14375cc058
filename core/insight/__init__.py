"""Inside a trained model: feature maps, Grad-CAM, embeddings, uncertainty and robustness, all without Streamlit."""
