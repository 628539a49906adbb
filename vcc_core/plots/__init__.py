"""Pure figure builders (plotly), one module per page and one shared style. No streamlit here."""
