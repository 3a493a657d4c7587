"""The Streamlit app (`reviewer ui`): thin pages over the reviewer library."""
