"""Small Streamlit helpers shared by the pages (the pages stay thin, core stays Streamlit-free)."""
